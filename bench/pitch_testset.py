"""Render the music-analysis test set: real-sounding audio with known answers.

Families (bench/pitch_accuracy.py scores each on its own and "overall" as their mean):

- "pattern": songs written here with pretty_midi from a seeded random generator: a
  diatonic chord progression in a known key (all 24 keys, 3 songs each), bass, a lead
  melody, drums in 4 songs of 5, 60-180 BPM, 4/4 or 3/4. Known: key, tempo, beats,
  downbeats, metre, chords, melody notes. The lead melody is also rendered alone
  ("solo", monophonic) to score the melody tracker on its own.
- "corpus": J. S. Bach chorales from music21's bundled corpus, transposed so that the
  24 keys are covered, on one random GM instrument, at a random tempo. The key is taken
  from the key signature plus the final bass note (tonic of the major or of the relative
  minor); chorales whose last bass note is neither are skipped (modal endings).
  (--patterns 108 --chorales 120: the last 36 songs and 60 chorales are drum-less and mostly slow.)
  These two are rendered by the fluidsynth command with FluidR3 GM, as before, so their audio
  and figures stay comparable with earlier commits.
- "groove", "poploop", "modal", "tempo" (bench/music_families.py, bench/testset_families.py):
  drum-driven grooves in 16 styles and 4/4, 3/4, 6/8, 12/8 (the compound beat is the dotted
  quarter), four-chord loops in all 24 keys that do not start on the tonic, modal vamps, and
  tempo steps/ramps/ritardandi; rendered with FluidR3, TimGM6mb, FluidR3Mono and MuseScore
  General and with the soundfonts' own or the sampled AVL drum kits:
      apt-get install fluidsynth fluid-soundfont-gm timgm6mb-soundfont fluidr3mono-gm-soundfont \
                      musescore-general-soundfont avldrums.lv2-soundfont

Splits: pattern songs and chorales whose index % 3 == 0 are "train", the rest "test". In the
new families, an item with a held-out soundfont (MuseScore General), kit (AVL Red Zeppelin) or
groove style (bossa, drum'n'bass, punk, jazz waltz) is always "test"; of the others one in three is
"train". Fitting (profiles, decoder constants, key model, the beat network) reads only "train"
items and the separate training corpus (--train-corpus N, other seeds, nothing held out; --train-pushed N
renders N grooves with pushed sections beside it, bench/pushed_family.py, labelled on the true beats).

Some files are encoded mp3/ogg/flac, and a quarter of the pattern songs are resampled
to detune them by 10-40 cents (tempo and times scale with it), so tuning correction is
exercised.

Usage: python bench/pitch_testset.py [--out bench/out/pitch_testset] [--patterns 108] [--chorales 120]
                                     [--no-families] [--train-corpus 100]
Re-running skips items already rendered (the cache lives under bench/out/, gitignored).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.chorale_family import (  # noqa: E402
    SLOW_BPM_MAX,
    backfill_labels,
    chorale_items,
    make_chorale,
)
from bench.music_render import RENDER_SR, SOUNDFONTS, render_mix, write_audio  # noqa: E402

SOUND_FONT = SOUNDFONTS["fluidr3"]
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "pitch_testset"
F0_HOP = 0.01  # s, frame hop of the reference f0 contours
PITCH_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]

MAJOR_SCALE = [0, 2, 4, 5, 7, 9, 11]
MINOR_SCALE = [0, 2, 3, 5, 7, 8, 10]  # natural minor; V is raised to major below
# progressions as (scale degree 0-6, quality) per chord; quality 'maj'/'min'/'7'
MAJOR_PROGRESSIONS = [
    [(0, "maj"), (3, "maj"), (4, "maj"), (0, "maj")],
    [(0, "maj"), (5, "min"), (3, "maj"), (4, "7")],
    [(0, "maj"), (4, "maj"), (5, "min"), (3, "maj")],
    [(1, "min"), (4, "7"), (0, "maj"), (0, "maj")],
    [(0, "maj"), (3, "maj"), (1, "min"), (4, "7")],
    [(0, "maj"), (2, "min"), (3, "maj"), (4, "maj")],
]
MINOR_PROGRESSIONS = [
    [(0, "min"), (3, "min"), (4, "maj"), (0, "min")],
    [(0, "min"), (5, "maj"), (2, "maj"), (4, "7")],
    [(0, "min"), (6, "maj"), (5, "maj"), (4, "maj")],
    [(0, "min"), (3, "min"), (6, "maj"), (2, "maj")],
    [(0, "min"), (4, "7"), (0, "min"), (3, "min")],
    [(0, "min"), (5, "maj"), (3, "min"), (4, "maj")],
]
QUALITY_INTERVALS = {"maj": [0, 4, 7], "min": [0, 3, 7], "7": [0, 4, 7, 10]}
CHORD_PROGRAMS = [0, 4, 5, 16, 19, 24, 25, 48, 49, 52, 88, 89]
BASS_PROGRAMS = [32, 33, 34, 38, 43]
LEAD_PROGRAMS = [73, 40, 56, 65, 66, 71, 68, 80, 81, 53, 11, 0, 22, 74]
# The first 72 pattern songs and 60 chorales are the original set (figures stay comparable);
# items appended after them are drum-less and mostly slow (60-95 BPM).
N_MIXED_PATTERNS = 72
N_MIXED_CHORALES = 60


# --------------------------------------------------------------------------- pattern songs
def make_pattern(index: int, rng: np.random.Generator, *, slow_drumless: bool = False
                 ) -> tuple[object, object, dict]:
    """(full pretty_midi.PrettyMIDI, lead-only PrettyMIDI, truth dict) for one pattern song.

    slow_drumless: no drums, and two songs in three at 60-95 BPM (the rest 60-180): the
    legato material whose tempo octave is hardest to decide.
    """
    import pretty_midi

    tonic = index % 12
    mode = "major" if (index // 12) % 2 == 0 else "minor"
    bpm = float(rng.uniform(60, 180))
    if slow_drumless and rng.random() < 2 / 3:
        bpm = float(rng.uniform(60, SLOW_BPM_MAX))
    beats_per_bar = 3 if rng.random() < 0.25 else 4
    beat = 60.0 / bpm
    bar = beat * beats_per_bar
    n_bars = int(max(8, min(24, round(28.0 / bar))))
    # slow songs change chords every half bar in 4/4, like a ballad
    chord_beats = 2 if (bpm < 90 and beats_per_bar == 4 and rng.random() < 0.5) else beats_per_bar
    scale = MAJOR_SCALE if mode == "major" else MINOR_SCALE
    progs = MAJOR_PROGRESSIONS if mode == "major" else MINOR_PROGRESSIONS
    prog = progs[int(rng.integers(len(progs)))]
    start = 0.5  # s of silence before the first downbeat (fluidsynth attack, realistic lead-in)

    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    lead_pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    chords_inst = pretty_midi.Instrument(program=int(rng.choice(CHORD_PROGRAMS)))
    bass_inst = pretty_midi.Instrument(program=int(rng.choice(BASS_PROGRAMS)))
    lead_program = int(rng.choice(LEAD_PROGRAMS))
    lead_inst = pretty_midi.Instrument(program=lead_program)
    drums = rng.random() < 0.8 and not slow_drumless
    drum_inst = pretty_midi.Instrument(program=0, is_drum=True)

    chord_truth = []
    n_chords = n_bars * beats_per_bar // chord_beats
    chord_seq = []
    for c in range(n_chords):
        degree, quality = prog[c % len(prog)]
        root = (tonic + scale[degree]) % 12
        if mode == "minor" and degree == 4:
            quality = "7" if quality == "7" else "maj"
        chord_seq.append((root, quality))
        t0 = start + c * chord_beats * beat
        t1 = t0 + chord_beats * beat
        label = f"{PITCH_NAMES[root]}:{quality}"
        chord_truth.append([round(t0, 4), round(t1, 4), label])
        # close voicing around C4 (MIDI 55-67), below the lead
        pcs = [(root + i) % 12 for i in QUALITY_INTERVALS[quality]]
        notes = sorted(55 + ((pc - 55) % 12) for pc in pcs)
        vel = int(rng.integers(55, 75))
        style = rng.random()
        if style < 0.5:  # sustained
            for m in notes:
                chords_inst.notes.append(pretty_midi.Note(vel, m, t0, t1 - 0.02))
        else:  # re-struck on each beat
            for b in range(chord_beats):
                for m in notes:
                    chords_inst.notes.append(pretty_midi.Note(vel, m, t0 + b * beat, t0 + (b + 0.9) * beat))
        # bass: root on each beat or root-fifth
        bass_root = 36 + ((root - 36) % 12)
        for b in range(chord_beats):
            m = bass_root if (b % 2 == 0 or rng.random() < 0.5) else bass_root + 7
            bass_inst.notes.append(
                pretty_midi.Note(int(rng.integers(70, 90)), m, t0 + b * beat, t0 + (b + 0.85) * beat))

    # lead melody: chord tones on beats, scale steps between, some rests and repeated notes
    melody_notes = []
    t = start
    end = start + n_bars * bar
    prev = 60 + tonic + 12 if tonic < 5 else 60 + tonic
    while t < end - 1e-6:
        c_idx = min(int((t - start) / (chord_beats * beat)), n_chords - 1)
        root, quality = chord_seq[c_idx]
        dur_beats = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
        dur = min(dur_beats * beat, end - t)
        if rng.random() < 0.12:  # rest
            t += dur
            continue
        on_beat = abs(((t - start) / beat) - round((t - start) / beat)) < 1e-3
        if on_beat:
            cands = [60 + ((root + i) % 12) + 12 * k for i in QUALITY_INTERVALS[quality] for k in (0, 1)]
        else:
            cands = [60 + ((tonic + s) % 12) + 12 * k for s in scale for k in (0, 1)]
        cands = [m for m in cands if 62 <= m <= 86]
        cands.sort(key=lambda m: abs(m - prev) + rng.random() * 3)
        m = int(cands[0] if rng.random() < 0.7 else cands[min(len(cands) - 1, int(rng.integers(1, 4)))])
        art = 0.9 if rng.random() < 0.7 else 0.6  # legato-ish or detached
        note = pretty_midi.Note(int(rng.integers(95, 115)), m, t, t + dur * art)
        lead_inst.notes.append(note)
        melody_notes.append([round(note.start, 4), round(note.end, 4), m])
        prev = m
        t += dur

    if drums:
        sub = 4 if bpm < 90 else 2  # hi-hat subdivisions per beat
        for b in range(n_bars * beats_per_bar):
            tb = start + b * beat
            pos = b % beats_per_bar
            if beats_per_bar == 4:
                hit = 36 if pos in (0, 2) else 38
            else:
                hit = 36 if pos == 0 else 38
            drum_inst.notes.append(pretty_midi.Note(int(rng.integers(95, 115)), hit, tb, tb + 0.1))
            for s in range(sub):
                ts = tb + s * beat / sub
                drum_inst.notes.append(pretty_midi.Note(int(rng.integers(50, 75)), 42, ts, ts + 0.05))
        # a crash on the first downbeat
        drum_inst.notes.append(pretty_midi.Note(90, 49, start, start + 0.5))
        pm.instruments.append(drum_inst)
    pm.instruments += [chords_inst, bass_inst, lead_inst]
    lead_copy = pretty_midi.Instrument(program=lead_program)
    lead_copy.notes = list(lead_inst.notes)
    lead_pm.instruments.append(lead_copy)

    beats = [start + b * beat for b in range(n_bars * beats_per_bar)]
    truth = {
        "family": "pattern",
        "key": f"{PITCH_NAMES[tonic]} {mode}",
        "tempo_bpm": bpm,
        "time_signature": beats_per_bar,
        "beats": beats,
        "downbeats": beats[::beats_per_bar],
        "chords": chord_truth,
        "melody_notes": melody_notes,
        "drums": drums,
        "programs": {"chords": chords_inst.program, "bass": bass_inst.program, "lead": lead_program},
    }
    return pm, lead_pm, truth


# --------------------------------------------------------------------------- render + encode
def render(pm, _unused=None, *, soundfont: str = "fluidr3", kit: str | None = None) -> np.ndarray:
    """MIDI -> float32 (n,) mono at RENDER_SR peaking at 0.8 (FluidR3 GM unless told otherwise)."""
    return render_mix(pm, soundfont=soundfont, kit=kit)


def detune(y: np.ndarray, cents: float) -> tuple[np.ndarray, float]:
    """Play faster/slower by resampling: pitch moves by `cents`, times scale by 1/rate."""
    import soxr

    rate = 2.0 ** (cents / 1200.0)
    return soxr.resample(y, RENDER_SR * rate, RENDER_SR).astype(np.float32), rate


def scale_truth(truth: dict, rate: float) -> dict:
    t = dict(truth)
    t["tempo_bpm"] = truth["tempo_bpm"] * rate
    for k in ("beats", "downbeats"):
        t[k] = [x / rate for x in truth[k]]
    if "chords" in truth:
        t["chords"] = [[a / rate, b / rate, lab] for a, b, lab in truth["chords"]]
    if "melody_notes" in truth:
        t["melody_notes"] = [[a / rate, b / rate, m] for a, b, m in truth["melody_notes"]]
    return t


def pick_format(index: int) -> str:
    return {0: "mp3", 1: "wav", 2: "wav", 3: "ogg", 4: "wav", 5: "flac", 6: "wav", 7: "mp3"}[index % 8]


def build(out: Path, n_patterns: int, n_chorales: int) -> list[dict]:
    if shutil.which("fluidsynth") is None or not SOUND_FONT.exists():
        sys.exit("fluidsynth and fluid-soundfont-gm are needed (apt-get install fluidsynth fluid-soundfont-gm)")
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for i in range(n_patterns):
        name = f"pattern_{i:03d}"
        rng = np.random.default_rng(1000 + i)
        meta_path = out / f"{name}.json"
        if meta_path.exists():
            manifest.append(json.loads(meta_path.read_text()))
            continue
        pm, lead_pm, truth = make_pattern(i, rng, slow_drumless=i >= N_MIXED_PATTERNS)
        y = render(pm, out)
        y_solo = render(lead_pm, out)
        rate = 1.0
        if i % 4 == 1:
            cents = float(rng.uniform(10, 40)) * (1 if rng.random() < 0.5 else -1)
            y, rate = detune(y, cents)
            y_solo, _ = detune(y_solo, cents)
            truth = scale_truth(truth, rate)
            truth["tuning_cents"] = cents
        else:
            truth["tuning_cents"] = 0.0
        fmt = pick_format(i)
        audio = write_audio(y, out / name, fmt)
        solo = write_audio(y_solo, out / f"{name}_solo", "flac")
        truth.update(name=name, audio=audio.name, solo_audio=solo.name, split="train" if i % 3 == 0 else "test",
                     format=fmt)
        meta_path.write_text(json.dumps(truth, indent=1))
        manifest.append(truth)
        print(f"{name}: {truth['key']:9s} {truth['tempo_bpm']:6.1f} BPM {truth['time_signature']}/4 {fmt}", flush=True)
    rng = np.random.default_rng(7)
    made = 0
    for path, _target, label in chorale_items(n_chorales, rng):
        if made >= n_chorales:
            break
        name = f"chorale_{made:03d}"
        meta_path = out / f"{name}.json"
        if meta_path.exists():
            manifest.append(backfill_labels(meta_path))
            made += 1
            continue
        item_rng = np.random.default_rng(5000 + made)
        result = make_chorale(path, made % 24, item_rng, slow=made >= N_MIXED_CHORALES)
        if result is None:
            continue
        pm, truth = result
        y = render(pm, out)
        fmt = pick_format(made + 3)
        audio = write_audio(y, out / name, fmt)
        truth.update(name=name, audio=audio.name, split="train" if made % 3 == 0 else "test", format=fmt,
                     tuning_cents=0.0)
        meta_path.write_text(json.dumps(truth, indent=1))
        manifest.append(truth)
        made += 1
        print(f"{name}: {truth['key']:9s} {truth['tempo_bpm']:6.1f} BPM ({label}) {fmt}", flush=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> None:
    from bench.testset_families import FAMILY_COUNTS, build_families, build_train_corpus

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--patterns", type=int, default=108)
    ap.add_argument("--chorales", type=int, default=120)
    ap.add_argument("--no-families", action="store_true", help="only the pattern songs and chorales")
    ap.add_argument("--train-corpus", type=int, default=0, metavar="N",
                    help="also render N items per family for network training into --train-out")
    ap.add_argument("--train-out", type=Path, default=DEFAULT_OUT.parent / "music_train")
    ap.add_argument("--train-pushed", type=int, default=0, metavar="N",
                    help="render N grooves with pushed sections beside --train-out (beat_train.py --pushed)")
    args = ap.parse_args(argv)
    if args.train_pushed:
        from bench.testset_families import PUSHED_FOLDER, build_pushed_corpus

        pushed = build_pushed_corpus(args.train_out.parent / PUSHED_FOLDER, args.train_pushed)
        print(f"{len(pushed)} pushed grooves in {args.train_out.parent / PUSHED_FOLDER}")
        return
    manifest = build(args.out, args.patterns, args.chorales)
    if not args.no_families:
        manifest += build_families(args.out, FAMILY_COUNTS)
        (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"{len(manifest)} items in {args.out}")
    if args.train_corpus:
        corpus = build_train_corpus(args.train_out, args.train_corpus, args.out)
        print(f"{len(corpus)} training items in {args.train_out}")


if __name__ == "__main__":
    main()
