"""Click tracks and kicks under held chords: sparse quarter-note music with a percussive pulse on every beat.

Why: the chorales' tempo halving (worker/music/beats.py `halves_the_beat`) halves a simple reading whose beats'
halves hold no note onsets and whose half-tempo grid sits on more beat activation. A producer's click track or a
kick on every beat under held chords meets both tests at its right tempo (the known-answer test
tests/test_music_synthetic.py::test_bars_start_where_the_chords_change: a 120 BPM click under chords changing
every 2 s, half-grid gain 1.21), and the fit data held no such item. This family puts them in the fit data (split
"train", seeds FIT_SEED + i) and in a held-out check (split "test", seeds CHECK_SEED + i, with the held-out
soundfont and kit too), so the guard that keeps them is chosen with them present and judged on others.

Each item: a chord progression in a random key, each chord held for half a bar, a bar or two (organ, strings,
choir, pad, piano or electric piano), a bass holding the root, half of them a melody in quarter and half notes (never an
eighth: the beats' halves stay empty), in 4/4 (or 3/4, one in five) at 60-160 BPM (log-uniform), and on every beat
one of: a GM percussion click (side stick, claves, wood block, cowbell, metronome click), a kick, a kick on 1 and 3
with a closed hat on every beat, or a synthetic 1 kHz click burst like the known-answer test's (accent on 1).

A second batch (`--fast`, names click_fast_*, seeds offset by FAST_SEED_OFFSET) draws its tempi at 116-160 BPM
only, where the halving can act (half the tempo not under beats.SLOW_TEMPO_BPM): the fit and the check hold 64 of
each.

Usage: python bench/click_family.py [--split train|test] [--n 64] [--fast] [--out DIR]
  then: python bench/music_cache.py --testset bench/out/click_fit --cache bench/out/music_cache_click_fit
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_render import (  # noqa: E402
    HELD_OUT_KITS,
    HELD_OUT_SOUNDFONTS,
    RENDER_SR,
    available_kits,
    available_soundfonts,
    render_mix,
    render_once,
    write_audio,
)

FIT_SEED = 995000  # item i of the fit family renders with default_rng(FIT_SEED + i) (sonata family: 990000+)
CHECK_SEED = 996000  # the held-out set's
SECONDS = 32.0  # music per item (the test set's items are ~30 s)
START = 0.5  # s of silence before the first beat
MIN_BPM, MAX_BPM = 60.0, 160.0
# `--fast`: a batch at the tempi where the halving can act at all (its half not under beats.SLOW_TEMPO_BPM, 58)
FAST_MIN_BPM = 116.0
FAST_SEED_OFFSET = 1000
PULSES = ("gm_click", "kick", "kick13_hat", "synth_click")
GM_CLICKS = (37, 75, 76, 56, 33)  # side stick, claves, high wood block, cowbell, metronome click
CHORD_PROGRAMS = (19, 48, 52, 89, 0, 4)  # church organ, strings, choir aahs, warm pad, piano, electric piano
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# scale degrees (semitones above the tonic) of I-IV-V-vi-ii in major and i-iv-V-VI-iv in minor, with qualities
PROGRESSIONS = {"major": [(0, "maj"), (5, "maj"), (7, "maj"), (9, "min"), (2, "min")],
                "minor": [(0, "min"), (5, "min"), (7, "maj"), (8, "maj"), (3, "maj")]}
CLICK_HZ = 1000.0  # the synthetic click's tone (tests/music_signals.py click_track)
CLICK_SAMPLES = 800  # at RENDER_SR: 18 ms
CLICK_DECAY_SAMPLES = 120.0


def _chord_pitches(tonic: int, degree: int, quality: str) -> list[int]:
    root = 48 + (tonic + degree) % 12
    third = 3 if quality == "min" else 4
    return [root, root + third, root + 7]


def make_item(rng: np.random.Generator, *, min_bpm: float = MIN_BPM):
    """(pretty_midi song, truth dict without name/audio, pulse, the synthetic click's beat times or None)."""
    import pretty_midi

    bpm = float(np.exp(rng.uniform(np.log(min_bpm), np.log(MAX_BPM))))
    metre = 3 if rng.random() < 0.2 else 4
    mode = "minor" if rng.random() < 0.4 else "major"
    tonic = int(rng.integers(12))
    pulse = PULSES[int(rng.integers(len(PULSES)))]
    period = 60.0 / bpm
    n_beats = int((SECONDS - START) / period)
    n_beats -= n_beats % metre
    beats = START + period * np.arange(n_beats)
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    chords = pretty_midi.Instrument(program=int(rng.choice(CHORD_PROGRAMS)))
    bass = pretty_midi.Instrument(program=int(rng.choice((32, 33, 42, 19))))
    # a chord every half bar (4/4 only), bar or two bars: a change every two beats makes the network's beats
    # alternate strong and weak, as the known-answer test's chords every 4 beats of 120 BPM did (half-grid gain 1.21)
    beats_per_chord = int(rng.choice((2, metre, 2 * metre) if metre == 4 else (metre, 2 * metre)))
    chord_labels = []
    prog = PROGRESSIONS[mode]
    for k, start in enumerate(range(0, n_beats, beats_per_chord)):
        degree, quality = prog[0] if k % 4 == 0 else prog[1 + int(rng.integers(len(prog) - 1))]
        t0 = float(beats[start])
        t1 = float(START + period * min(n_beats, start + beats_per_chord))
        for p in _chord_pitches(tonic, degree, quality):
            chords.notes.append(pretty_midi.Note(velocity=70, pitch=p, start=t0, end=t1))
        bass.notes.append(pretty_midi.Note(velocity=80, pitch=36 + (tonic + degree) % 12, start=t0, end=t1))
        chord_labels.append([round(t0, 4), round(t1, 4), f"{NAMES[(tonic + degree) % 12]}:{quality}"])
    pm.instruments += [chords, bass]
    if rng.random() < 0.5:  # a sparse melody: quarters and halves on chord and scale tones, never an eighth
        lead = pretty_midi.Instrument(program=int(rng.choice((73, 40, 56, 0, 68))))
        scale = [0, 2, 4, 5, 7, 9, 11] if mode == "major" else [0, 2, 3, 5, 7, 8, 10]
        i = 0
        while i < n_beats - 1:
            length = 2 if rng.random() < 0.3 else 1
            if rng.random() < 0.8:
                pitch = 72 + (tonic + scale[int(rng.integers(7))]) % 12
                end = float(START + period * min(n_beats, i + length))
                lead.notes.append(pretty_midi.Note(velocity=75, pitch=pitch, start=float(beats[i]), end=end))
            i += length
        pm.instruments.append(lead)
    click_times = None
    if pulse == "synth_click":
        click_times = beats
    else:
        drums = pretty_midi.Instrument(program=0, is_drum=True)
        sound = int(rng.choice(GM_CLICKS))
        for k, t in enumerate(beats):
            accent = 100 if k % metre == 0 else 80
            if pulse == "gm_click":
                drums.notes.append(pretty_midi.Note(velocity=accent, pitch=sound, start=float(t), end=float(t) + 0.1))
            elif pulse == "kick":
                drums.notes.append(pretty_midi.Note(velocity=accent, pitch=36, start=float(t), end=float(t) + 0.1))
            else:  # kick on 1 and 3 (on 1 in 3/4), a closed hat on every beat
                if k % metre in ((0, 2) if metre == 4 else (0,)):
                    drums.notes.append(pretty_midi.Note(velocity=100, pitch=36, start=float(t), end=float(t) + 0.1))
                drums.notes.append(pretty_midi.Note(velocity=70, pitch=42, start=float(t), end=float(t) + 0.05))
        pm.instruments.append(drums)
    truth = {"family": "click", "key": f"{NAMES[tonic]} {mode}", "tempo_bpm": bpm, "time_signature": metre,
             "beats": [round(float(t), 4) for t in beats], "downbeats": [round(float(t), 4) for t in beats[::metre]],
             "chords": chord_labels, "drums": pulse != "synth_click", "pulse": pulse, "tuning_cents": 0.0}
    return pm, truth, pulse, click_times


def add_clicks(y: np.ndarray, times: np.ndarray, metre: int, level: float) -> np.ndarray:
    """The known-answer test's click (a decaying 1 kHz burst) on every time, the first of each bar louder."""
    n = np.arange(CLICK_SAMPLES)
    click = np.sin(2 * np.pi * CLICK_HZ * n / RENDER_SR) * np.exp(-n / CLICK_DECAY_SAMPLES)
    out = y.copy()
    for k, t in enumerate(times):
        a = int(t * RENDER_SR)
        seg = out[a : a + CLICK_SAMPLES]
        seg += (click[: len(seg)] * level * (1.0 if k % metre == 0 else 0.6)).astype(np.float32)
    return out


def build(out: Path, n: int, *, split: str, fast: bool = False) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    held = split == "test"
    fonts = [f for f in available_soundfonts() if held or f not in HELD_OUT_SOUNDFONTS]
    kits = [k for k in available_kits() if held or k not in HELD_OUT_KITS]
    seed = (CHECK_SEED if held else FIT_SEED) + (FAST_SEED_OFFSET if fast else 0)
    made = [json.loads(p.read_text()) for p in sorted(out.glob("click_*.json"))
            if p.stem.startswith("click_fast_" if not fast else f"click_{split}_")]  # the other batch's, kept
    def make(name: str, i: int) -> dict:
        rng = np.random.default_rng(seed + i)
        pm, truth, pulse, click_times = make_item(rng, min_bpm=FAST_MIN_BPM if fast else MIN_BPM)
        font = fonts[int(rng.integers(len(fonts)))]
        kit = kits[int(rng.integers(len(kits)))] if kits and pulse in ("kick", "kick13_hat") and rng.random() < 0.5 \
            else None
        y = render_mix(pm, soundfont=font, kit=kit, engine="lib")
        if click_times is not None:
            y = add_clicks(y, click_times, truth["time_signature"], level=float(rng.uniform(0.05, 0.5)))
            y = (0.8 * y / max(float(np.abs(y).max()), 1e-9)).astype(np.float32)
        audio = write_audio(y, out / name, "flac")
        truth.update(name=name, audio=audio.name, soundfont=font, kit=kit, split=split)
        print(f"{name}: {pulse:11s} {truth['tempo_bpm']:5.1f} BPM {truth['time_signature']}/4 {font} {kit}", flush=True)
        return truth

    for i in range(n):
        name = f"click_{'fast_' if fast else ''}{split}_{i:03d}"
        made.append(render_once(out, name, lambda name=name, i=i: make(name, i)))
    (out / "manifest.json").write_text(json.dumps(made, indent=1))
    return made


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="train", choices=["train", "test"])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--fast", action="store_true", help=f"tempi {FAST_MIN_BPM:.0f}-{MAX_BPM:.0f} BPM only")
    args = ap.parse_args(argv)
    out = args.out or ROOT / "bench" / "out" / ("click_fit" if args.split == "train" else "click_check")
    made = build(out, args.n, split=args.split, fast=args.fast)
    print(f"{len(made)} click items in {out}")


if __name__ == "__main__":
    main()
