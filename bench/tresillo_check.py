"""A check on 4/4 grooves whose accents fall 3 + 3 + 2 eighths apart (the tresillo family), which no rendered family
holds and nothing was fitted on: the held-out check of the 3:2 rule (worker/music/three_two.py), whose margin was
set on xmoto's tracks.

Six bench-local styles (never added to bench/music_styles.STYLES, whose grooves make the test split and the
training corpus): dembow (kick on every beat, snare 3 + 3 + 2 sixteenths in each half bar, a habanera bass),
pop332 (kick and bass on 1, 2& and 4 under a snare-and-clap backbeat), bare332 (the same kick with no backbeat),
habanera (kick and bass on 1, 2&, 3 and 4, no backbeat), afro (the tresillo kick with cross-stick and open hats,
no backbeat) and clave (the clave's 3-side on the rim, kick on 1 and 3, a tumbao bass on 2& and 4). Songs are
made by bench/music_families' Song, add_drums, add_harmony and add_lead (a chord a bar, so the bass keeps its
pattern), 80-150 BPM, rendered on every soundfont and kit the families use (bench/testset_families._pick_sound),
item i with default_rng(SEED + i), and labelled with beats, downbeats, tempo and 4/4 as the families are.

Each item is analysed twice in the same process, with the 3:2 rule as shipped and with it off
(beats.THREE_TWO_MARGIN = RULE_OFF), and scored per style and overall: tempo Acc1/Acc2, beat F, downbeat F, metre
class; beside them Essentia and madmom where bench/music_anchors.py has run on the folder
(`--items bench/out/tresillo_check --split all`). `--set MODULE.NAME=VALUE` changes a constant for both runs.

Renders are cached in bench/out/tresillo_check (per-item .json and a manifest; another --n renders into
tresillo_check_<n>).

Usage: python bench/tresillo_check.py [--n 48] [--set beats.NAME=VALUE ...] [-v]
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chorale_check import check_arguments  # noqa: E402
from bench.music_families import Song, add_drums, add_harmony, add_lead, beat_grid  # noqa: E402
from bench.music_scores import metre_class  # noqa: E402
from bench.music_styles import (  # noqa: E402
    CLAP,
    MAJOR_SCALE,
    MINOR_SCALE,
    OPEN_HAT,
    PITCH_NAMES,
    RIM,
    TONIC_MAJOR_LOOPS,
    TONIC_MINOR_LOOPS,
    Style,
)
from bench.pitch_accuracy import rhythm_rows  # noqa: E402

OUT = ROOT / "bench" / "out" / "tresillo_check"
DEFAULT_N = 48
SEED = 975000  # item i renders with default_rng(SEED + i); no other bench uses 970000-979999
BPM_RANGE = (80.0, 150.0)  # the labelled quarter-note tempo, BPM
SONG_SECONDS = 26.0  # target length, as the families' songs
MIN_BARS, MAX_BARS = 8, 24
CHORD_BEATS = 4  # a chord a bar: add_harmony plays the bass on the style's bass steps within one chord
RULE_OFF = 1e9  # beats.THREE_TWO_MARGIN no evidence can pass
EIGHTHS = tuple(range(0, 16, 2))
SIXTEENTHS = tuple(range(16))

# 16 steps a bar (4/4, sixteenths); usual_bpm is not used (tempi come from BPM_RANGE)
STYLES = {s.name: s for s in (
    Style("dembow", 4, 4, BPM_RANGE, (0, 4, 8, 12), (3, 6, 11, 14), EIGHTHS, comp="stabs"),
    Style("pop332", 4, 4, BPM_RANGE, (0, 6, 12), (4, 12), SIXTEENTHS, {CLAP: (4, 12), OPEN_HAT: (2, 10)},
          comp="offbeat"),
    Style("bare332", 4, 4, BPM_RANGE, (0, 6, 12), (), EIGHTHS, comp="sustain"),
    Style("habanera", 4, 4, BPM_RANGE, (0, 6, 8, 12), (), EIGHTHS, comp="arpeggio"),
    Style("afro", 4, 4, BPM_RANGE, (0, 6, 12), (), SIXTEENTHS, {RIM: (3, 10, 14), OPEN_HAT: (2, 10)},
          ghost=(7, 15), comp="stabs"),
    Style("clave", 4, 4, BPM_RANGE, (0, 8), (), EIGHTHS, {RIM: (0, 6, 12)}, comp="stabs"),
)}
# Sixteenth steps of the bass within a bar where they are not the kick's (add_harmony follows the kick otherwise)
BASS_STEPS = {"dembow": (0, 6, 8, 12), "clave": (0, 6, 12)}


def tresillo_song(index: int, rng: np.random.Generator) -> tuple[object, dict]:
    """(PrettyMIDI, truth) of item `index`: style index % len(STYLES), a tonic-first loop, a lead in 60 %."""
    style = STYLES[sorted(STYLES)[index % len(STYLES)]]
    bpm = float(rng.uniform(*BPM_RANGE))
    n_bars = int(np.clip(round(SONG_SECONDS / (style.beats * 60.0 / bpm)), MIN_BARS, MAX_BARS))
    song = Song(beat_grid(bpm, n_bars * style.beats), style, rng)
    tonic, minor = int(rng.integers(12)), bool(rng.random() < 0.4)
    loops = TONIC_MINOR_LOOPS if minor else TONIC_MAJOR_LOOPS
    chords = [((tonic + iv) % 12, q) for iv, q in loops[int(rng.integers(len(loops)))]]
    add_drums(song)
    if style.name in BASS_STEPS:  # add_harmony places the bass on song.style.kick
        song.style = dataclasses.replace(style, kick=BASS_STEPS[style.name])
    chord_truth = add_harmony(song, chords, chord_beats=CHORD_BEATS)
    song.style = style
    melody = (add_lead(song, tonic, MINOR_SCALE if minor else MAJOR_SCALE, chords, chord_beats=CHORD_BEATS,
                       settle_on_tonic=False) if rng.random() < 0.6 else [])
    beats = [round(float(t), 4) for t in song.grid[:-1]]
    truth = {"family": "tresillo", "style": style.name, "key": f"{PITCH_NAMES[tonic]} {'minor' if minor else 'major'}",
             "tempo_bpm": bpm, "tempo_profile": "steady", "start_bpm": bpm, "time_signature": style.time_signature,
             "beats_per_bar": style.beats, "beats": beats, "downbeats": beats[:: style.beats], "chords": chord_truth,
             "melody_notes": melody, "drums": True}
    return song.pm, truth


def build(out: Path, n: int) -> list[dict]:
    """Render (or reuse) n items into `out` (FLAC, split "test") with a manifest; returns their truths."""
    from bench.music_render import render_mix, write_audio
    from bench.testset_families import _pick_sound

    out.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(n):
        name = f"tresillo_{i:03d}"
        meta = out / f"{name}.json"
        if meta.exists():
            made.append(json.loads(meta.read_text()))
            continue
        rng = np.random.default_rng(SEED + i)
        pm, truth = tresillo_song(i, rng)
        font, kit = _pick_sound(rng, allow_held_out=True)
        y = render_mix(pm, soundfont=font, kit=kit, drum_gain=float(rng.uniform(0.5, 1.2)), engine="lib")
        audio = write_audio(y, out / name, "flac")
        truth.update(name=name, audio=audio.name, soundfont=font, kit=kit, format="flac", engine="lib",
                     split="test", tuning_cents=0.0, seed=SEED + i)
        meta.write_text(json.dumps(truth, indent=1))
        made.append(truth)
        print(f"{name}: {truth['style']:8s} {truth['tempo_bpm']:5.1f} BPM {font}/{kit}", flush=True)
    (out / "manifest.json").write_text(json.dumps(made, indent=1))
    return made


def analyse_both(y: np.ndarray, sr: int) -> dict[str, dict]:
    """The pipeline's rhythm on `y` with the 3:2 rule as set ("on") and with it off ("off")."""
    from worker.music import beats
    from worker.music.options import PitchOptions
    from worker.music.pipeline import analyze_music

    shipped = beats.THREE_TWO_MARGIN
    out = {"on": analyze_music(y, sr, options=PitchOptions(include=("tempo", "beats")))}
    beats.THREE_TWO_MARGIN = RULE_OFF
    try:
        out["off"] = analyze_music(y, sr, options=PitchOptions(include=("tempo", "beats")))
    finally:
        beats.THREE_TWO_MARGIN = shipped
    return out


def score(m: dict, runs: dict[str, dict], anchors: dict) -> dict[str, dict[str, float]]:
    """Rows per system (ours off / on, essentia, madmom) of one item."""
    rows = {}
    for label, res in (("rule off", runs["off"]), ("rule on", runs["on"])):
        rows[label] = rhythm_rows(m, tempo=res["tempo_bpm"], beats=res["beat_times"],
                                  downbeats=res["downbeat_times"], metre=res.get("time_signature"))
    if "beats" in anchors.get("essentia", {}):
        ess = anchors["essentia"]
        rows["essentia"] = rhythm_rows(m, tempo=ess["tempo"], beats=ess["beats"])
    if "beats" in anchors.get("madmom", {}):
        mad = anchors["madmom"]
        rows["madmom"] = rhythm_rows(m, tempo=mad["tempo"], beats=mad["beats"], downbeats=mad["downbeats"])
        rows["madmom"]["metre"] = float(metre_class(mad["beats_per_bar"]) == metre_class(m["time_signature"]))
    for label, tempo in (("rule off", runs["off"]["tempo_bpm"]), ("rule on", runs["on"]["tempo_bpm"]),
                         ("essentia", anchors.get("essentia", {}).get("tempo")),
                         ("madmom", anchors.get("madmom", {}).get("tempo"))):
        if label in rows:  # the reading over the labelled tempo (2/3 is the dotted quarter); printed as a median
            rows[label]["ratio"] = (tempo or 0.0) / m["tempo_bpm"]
    return rows


def main(argv: list[str] | None = None) -> None:
    from worker.audio_io import load_audio

    args = check_arguments(__doc__, argv, n=DEFAULT_N)
    out = OUT if args.n == DEFAULT_N else OUT.with_name(f"{OUT.name}_{args.n}")
    items = build(out, args.n)
    per: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    moved = []
    t0 = time.perf_counter()
    for m in items:
        y, sr = load_audio(out / m["audio"], mono=True)
        runs = analyse_both(y, sr)
        anchors_path = out / "anchor_cache" / f"{m['name']}.json"
        anchors = json.loads(anchors_path.read_text()) if anchors_path.exists() else {}
        rows = score(m, runs, anchors)
        for system, row in rows.items():
            for group in (m["style"], "all"):
                for metric, v in row.items():
                    per[system][group][metric].append(v)
        off, on = runs["off"]["tempo_bpm"] or 0.0, runs["on"]["tempo_bpm"] or 0.0
        if abs(on - off) > 1e-6:
            moved.append(f"{m['name']} {m['style']} {m['tempo_bpm']:.1f}: {off:.1f} -> {on:.1f}")
        if args.verbose:
            anchor_tempi = " ".join(f"{k} {anchors[k].get('tempo') or 0:.1f}" for k in ("essentia", "madmom")
                                    if k in anchors)
            print(f"{m['name']} {m['style']:8s} {m['tempo_bpm']:5.1f} {m['soundfont']}/{m['kit']} -> off "
                  f"{off:5.1f} {runs['off'].get('time_signature')} on {on:5.1f} {runs['on'].get('time_signature')} "
                  f"{anchor_tempi}", flush=True)
    print(f"{len(items)} tresillo-family grooves nobody fitted on ({time.perf_counter() - t0:.0f} s to analyse "
          f"twice) " + (f"with {' '.join(args.set)}" if args.set else "as shipped"))
    groups = sorted(per["rule on"], key=lambda g: (g == "all", g))
    for system in per:
        for g in groups:
            values = per[system][g]
            print(f"  {system:8s} {g:8s} n {len(values['beat_f']):3d}  "
                  + "  ".join(f"{metric} {np.mean(v):.3f}" for metric, v in values.items() if metric != "ratio")
                  + f"  median tempo ratio {np.median(values['ratio']):.3f}")
    print(f"  tempo moved by the rule on {len(moved)} of {len(items)}" + "".join(f"\n    {s}" for s in moved))


if __name__ == "__main__":
    main()
