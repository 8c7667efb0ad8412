"""Render pretty_midi songs with libfluidsynth in-process, each soundfont loaded once.

The fluidsynth command loads its soundfont on every run: 0.3 s for an sf2 but 5-20 s for the
compressed sf3 fonts (FluidR3Mono, MuseScore General), which made a few hundred renders take
an hour. Here a `FontSynth` keeps one synthesizer per soundfont and plays the notes itself,
sample-accurately, through libfluidsynth's C API (ctypes; the library comes with Debian's
fluidsynth package). Drums play on channel 10 with the font's percussion bank, as in the CLI.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from pathlib import Path

import numpy as np

RENDER_SR = 44100  # Hz
GAIN = 0.5  # the CLI's -g 0.5
TAIL_SECONDS = 1.0  # rendered after the last note off (release and reverb)
DRUM_CHANNEL = 9


@lru_cache(maxsize=1)
def _lib():
    name = ctypes.util.find_library("fluidsynth") or "libfluidsynth.so.3"
    lib = ctypes.CDLL(name)
    lib.new_fluid_settings.restype = ctypes.c_void_p
    lib.new_fluid_synth.restype = ctypes.c_void_p
    lib.new_fluid_synth.argtypes = [ctypes.c_void_p]
    lib.fluid_settings_setnum.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_double]
    lib.fluid_settings_setint.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.fluid_synth_sfload.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    int_args = {"fluid_synth_noteon": 3, "fluid_synth_noteoff": 2, "fluid_synth_program_change": 2}
    for fn, n in int_args.items():
        getattr(lib, fn).argtypes = [ctypes.c_void_p] + [ctypes.c_int] * n
    lib.fluid_synth_system_reset.argtypes = [ctypes.c_void_p]
    lib.fluid_synth_write_float.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                            ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    return lib


class FontSynth:
    """One synthesizer with one soundfont loaded; `render(pm)` -> (n,) float32 mono."""

    def __init__(self, soundfont: Path):
        lib = _lib()
        self.settings = lib.new_fluid_settings()
        lib.fluid_settings_setnum(self.settings, b"synth.sample-rate", float(RENDER_SR))
        lib.fluid_settings_setnum(self.settings, b"synth.gain", GAIN)
        lib.fluid_settings_setint(self.settings, b"synth.polyphony", 512)
        self.synth = lib.new_fluid_synth(self.settings)
        if lib.fluid_synth_sfload(self.synth, str(soundfont).encode(), 1) < 0:
            raise RuntimeError(f"fluidsynth could not load {soundfont}")

    def _events(self, pm) -> list[tuple[float, int, int, int, int]]:
        """(time, order, channel, pitch, velocity) with note-offs (order 0) before note-ons (1) at one time."""
        lib, events, channel = _lib(), [], 0
        for inst in pm.instruments:
            if inst.is_drum:
                ch = DRUM_CHANNEL
            else:
                ch = channel
                channel = channel + 1 if channel + 1 != DRUM_CHANNEL else channel + 2
                ch %= 16
            lib.fluid_synth_program_change(self.synth, ch, int(inst.program))
            for n in inst.notes:
                events.append((float(n.start), 1, ch, int(n.pitch), int(n.velocity)))
                events.append((float(n.end), 0, ch, int(n.pitch), 0))
        events.sort()
        return events

    def render(self, pm) -> np.ndarray:
        lib = _lib()
        lib.fluid_synth_system_reset(self.synth)
        events = self._events(pm)
        end = (events[-1][0] if events else 0.0) + TAIL_SECONDS
        n_total = int(end * RENDER_SR)
        left = np.zeros(n_total, dtype=np.float32)
        right = np.zeros(n_total, dtype=np.float32)
        pos = 0
        for t, order, ch, pitch, vel in [*events, (end, 0, -1, 0, 0)]:
            target = min(n_total, int(round(t * RENDER_SR)))
            if target > pos:
                lib.fluid_synth_write_float(self.synth, target - pos, left[pos:].ctypes.data, 0, 1,
                                            right[pos:].ctypes.data, 0, 1)
                pos = target
            if ch < 0:
                break
            if order:
                lib.fluid_synth_noteon(self.synth, ch, pitch, vel)
            else:
                lib.fluid_synth_noteoff(self.synth, ch, pitch)
        lib.fluid_synth_system_reset(self.synth)
        return (0.5 * (left + right)).astype(np.float32)


@lru_cache(maxsize=8)
def font_synth(soundfont: Path) -> FontSynth:
    return FontSynth(soundfont)
