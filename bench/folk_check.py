"""A check on drum-less folk tunes nobody fitted on: jigs, reels, waltzes, marches and songs from music21's ABC
collections, made by the folk family's generator (bench/folk_family.py: the tune with an oom-pah, broken-chord,
pad or no accompaniment) with a seed no other script uses, never a tune the fit corpus may draw (its candidates
are excluded), on every soundfont including MuseScore General, which no fit hears. In compound metres the beat is
the dotted quarter; 2/4 and 2/2 tunes count for tempo, beats and metre class but not for downbeats (their bars
are half of what the decoder's 3- and 4-beat bars group).

Why: the folk tunes are the fit data of the bar decoder's repetition evidence (worker/music/beats.py
PATTERN_WEIGHT) and of the compound reading (SUBDIVISION_WEIGHT); this is the same kind of music with nothing
chosen on it. Reported per metre and overall: tempo Acc1/Acc2, beat F, downbeat F, metre class (duple/triple x
simple/compound), ours beside librosa's beat_track and, where bench/music_anchors.py has run on the folder
(`--items bench/out/folk_check --split all`), Essentia's RhythmExtractor2013 and madmom's downbeat tracker (whose
bars are 3 or 4 beats: it never says compound). `--set beats.NAME=VALUE` compares a constant on the same renders.

Renders are cached in bench/out/folk_check (per-item .json and a manifest, so bench/music_cache.py --testset
and the anchors can read them; another --n renders into folk_check_<n>).

Usage: python bench/folk_check.py [--n 120] [--set beats.PATTERN_WEIGHT=0.0 ...] [-v]
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chorale_check import check_arguments  # noqa: E402
from bench.folk_family import build_folk_corpus, fit_sources  # noqa: E402
from bench.music_scores import metre_class  # noqa: E402
from bench.pitch_accuracy import librosa_baseline, rhythm_rows  # noqa: E402

OUT = ROOT / "bench" / "out" / "folk_check"
DEFAULT_N = 120
SEED = 987000  # picks the tunes; item i renders with default_rng(SEED + 1 + i) (the fit corpus's: 980000)
BAR_UNKNOWN = ("2/4", "2/2")  # bars of two beats: no downbeat score (see the docstring)


def main(argv: list[str] | None = None) -> None:
    from worker.audio_io import load_audio
    from worker.music.options import PitchOptions
    from worker.music.pipeline import analyze_music

    args = check_arguments(__doc__, argv, n=DEFAULT_N)
    # which tunes are drawn depends on n (pick_tunes keeps the metres' shares), so each n has its own folder
    out = OUT if args.n == DEFAULT_N else OUT.with_name(f"{OUT.name}_{args.n}")
    items = build_folk_corpus(out, args.n, seed=SEED, split="test", exclude=fit_sources())
    per: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    t0 = time.perf_counter()
    for m in items:
        y, sr = load_audio(out / m["audio"], mono=True)
        res = analyze_music(y, sr, options=PitchOptions(include=("tempo", "beats")))
        base = librosa_baseline(y, sr, {})
        bars = m["time_signature"] not in BAR_UNKNOWN
        rows = {"ours": rhythm_rows(m, tempo=res["tempo_bpm"], beats=res["beat_times"],
                                    downbeats=res["downbeat_times"] if bars else None),
                "librosa": rhythm_rows(m, tempo=base["tempo"], beats=base["beats"])}
        rows["ours"]["metre"] = float(metre_class(res.get("time_signature")) == metre_class(m["time_signature"]))
        anchors_path = out / "anchor_cache" / f"{m['name']}.json"
        anchors = json.loads(anchors_path.read_text()) if anchors_path.exists() else {}
        if "beats" in anchors.get("essentia", {}):
            ess = anchors["essentia"]
            rows["essentia"] = rhythm_rows(m, tempo=ess["tempo"], beats=ess["beats"])
        if "beats" in anchors.get("madmom", {}):
            mad = anchors["madmom"]
            rows["madmom"] = rhythm_rows(m, tempo=mad["tempo"], beats=mad["beats"],
                                         downbeats=mad["downbeats"] if bars else None)
            rows["madmom"]["metre"] = float(metre_class(mad["beats_per_bar"]) == metre_class(m["time_signature"]))
        for system, row in rows.items():
            for group in (m["time_signature"], "all"):
                for metric, v in row.items():
                    per[system][group][metric].append(v)
        if args.verbose:
            print(f"{m['name']} {m['source']:36s} {m['time_signature']:5s} {m['tempo_bpm']:5.1f} {m['texture']:7s} -> "
                  f"{res.get('time_signature')} {res['tempo_bpm'] or 0:5.1f} BPM "
                  + " ".join(f"{k} {v:.2f}" for k, v in rows["ours"].items()), flush=True)
    print(f"{len(items)} folk tunes nobody fitted on ({time.perf_counter() - t0:.0f} s to analyse) "
          + (f"with {' '.join(args.set)}" if args.set else "as shipped"))
    groups = sorted(per["ours"], key=lambda g: (g == "all", g))
    for system in per:
        for g in groups:
            values = per[system][g]
            print(f"  {system:8s} {g:5s} n {len(values['beat_f']):3d}  "
                  + "  ".join(f"{metric} {np.mean(v):.3f}" for metric, v in values.items()))


if __name__ == "__main__":
    main()
