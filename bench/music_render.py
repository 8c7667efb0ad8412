"""Render pretty_midi songs to audio with Debian's soundfonts and drum kits, and encode them.

Melodic parts and drums can come from different soundfonts: a GM soundfont's own drum kit
(bank 128) or one of the sampled AVL kits (`avldrums.lv2-soundfont`, GM note numbers on a
melodic channel). Which soundfonts and kits exist decides which the generators may pick.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

RENDER_SR = 44100  # Hz
RENDER_TIMEOUT = 60.0  # s per fluidsynth run (a normal item takes ~1 s)
SF2 = Path("/usr/share/sounds/sf2")
SF3 = Path("/usr/share/sounds/sf3")
# name -> soundfont file (Debian packages: fluid-soundfont-gm, timgm6mb-soundfont,
# fluidr3mono-gm-soundfont, musescore-general-soundfont)
SOUNDFONTS = {
    "fluidr3": SF2 / "FluidR3_GM.sf2",
    "timgm6mb": SF2 / "TimGM6mb.sf2",
    "fluidr3mono": SF3 / "FluidR3Mono_GM.sf3",
    "musescore": SF3 / "MuseScore_General.sf3",
}
# sampled drum kits (avldrums.lv2-soundfont): GM note numbers played on a melodic channel
DRUM_KITS = {
    "avl_blackpearl": SF2 / "Black_Pearl_4_LV2.sf2",
    "avl_redzeppelin": SF2 / "Red_Zeppelin_4_LV2.sf2",
}
# Held out of every fit (profiles, thresholds, network training): scored only on the test split.
HELD_OUT_SOUNDFONTS = frozenset({"musescore"})
HELD_OUT_KITS = frozenset({"avl_redzeppelin"})


def available_soundfonts() -> dict[str, Path]:
    return {k: p for k, p in SOUNDFONTS.items() if p.exists()}


def available_kits() -> dict[str, Path]:
    return {k: p for k, p in DRUM_KITS.items() if p.exists()}


def _fluidsynth(pm, soundfont: Path) -> np.ndarray:
    """One fluidsynth run: (n,) float32 mono at RENDER_SR, not normalised."""
    import pretty_midi

    with tempfile.TemporaryDirectory() as tmp:
        mid = Path(tmp) / "x.mid"
        out = Path(tmp) / "x.wav"
        pm.write(str(mid))
        cmd = ["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(RENDER_SR), "-F", str(out), str(soundfont), str(mid)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=RENDER_TIMEOUT)
        except subprocess.TimeoutExpired:
            # a voice that never dies (seen with some organ chorales) keeps fluidsynth writing
            # forever: silence every channel one second after the last note and render again
            end = pm.get_end_time() + 1.0
            for inst in pm.instruments:
                inst.control_changes += [pretty_midi.ControlChange(123, 0, end),
                                         pretty_midi.ControlChange(120, 0, end)]
            pm.write(str(mid))
            subprocess.run(cmd, check=True, capture_output=True, timeout=RENDER_TIMEOUT)
        y, _ = sf.read(str(out), dtype="float32", always_2d=True)
    return y.mean(axis=1)


def _lib_render(pm, soundfont: Path) -> np.ndarray:
    from .fluid_lib import font_synth

    return font_synth(soundfont).render(pm)


def render_mix(pm, *, soundfont: str = "fluidr3", kit: str | None = None, drum_gain: float = 1.0,
               engine: str = "cli") -> np.ndarray:
    """Render `pm` to (n,) float32 mono peaking at 0.8.

    kit: None plays drum tracks with the soundfont's own kit; an AVL kit name renders the drum
    tracks separately with that kit and mixes them in at `drum_gain`.
    engine: "cli" runs the fluidsynth command per render (what the pattern songs and chorales were
    rendered with); "lib" keeps each soundfont loaded in this process (fluid_lib.py), far faster
    for the compressed sf3 fonts.
    """
    import pretty_midi

    synth = _fluidsynth if engine == "cli" else _lib_render
    if kit is None or not any(inst.is_drum for inst in pm.instruments):
        return _normalised(synth(pm, SOUNDFONTS[soundfont]))  # one run, the MIDI file as given
    melodic = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    drums = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for inst in pm.instruments:
        if inst.is_drum and kit is not None:
            copy = pretty_midi.Instrument(program=0, is_drum=False, name="kit")
            copy.notes = list(inst.notes)
            drums.instruments.append(copy)
        else:
            melodic.instruments.append(inst)
    parts = []
    if melodic.instruments:
        parts.append(synth(melodic, SOUNDFONTS[soundfont]))
    if drums.instruments:
        parts.append(drum_gain * synth(drums, DRUM_KITS[kit]))
    n = max(len(p) for p in parts)
    y = np.zeros(n, dtype=np.float32)
    for p in parts:
        y[: len(p)] += p
    return _normalised(y)


def _normalised(y: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(y))) or 1.0
    return (y / peak * 0.8).astype(np.float32)


def render_once(out: Path, name: str, make: Callable[[], dict]) -> dict:
    """The truth of item `name` of a rendered family in `out`: read from its <name>.json where an earlier run
    rendered it (a family is rendered once and reused), else make()'s (it writes the audio and returns the truth),
    written there."""
    meta = out / f"{name}.json"
    if meta.exists():
        return json.loads(meta.read_text())
    truth = make()
    meta.write_text(json.dumps(truth, indent=1))
    return truth


def write_audio(y: np.ndarray, path_no_ext: Path, fmt: str) -> Path:
    """Write (n,) audio at RENDER_SR as wav/flac (16 bit) or mp3/ogg (ffmpeg) and return the path."""
    # appended, not with_suffix: a name holding a dot (the fit corpus's chorale_bwv48.3_0) lost its tail, and every
    # render of bwv48.* was written to one chorale_bwv48.flac
    path = path_no_ext.with_name(f"{path_no_ext.name}.{fmt}")
    if fmt in ("wav", "flac"):
        sf.write(str(path), y, RENDER_SR, subtype="PCM_16")
        return path
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "x.wav"
        sf.write(str(wav), y, RENDER_SR, subtype="PCM_16")
        codec = ["-c:a", "libmp3lame", "-b:a", "160k"] if fmt == "mp3" else ["-c:a", "libvorbis", "-q:a", "5"]
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), *codec, str(path)],
                       check=True)
    return path
