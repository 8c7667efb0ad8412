"""The chorales' halving and its guards on cached features: which readings each halving changes, what sounds on
their weak beats, and main against a candidate per family, the same cache decoded twice.

Needs the halving's code, which is not shipped: `git apply docs/tried/weak_beat_sounds_2026-12-05.diff` first
(worker/music/beats.py `halves_the_beat` with its guards, worker/music/beat_sounds.py's reading).

Main has no halving (beats.HALVE_ONSET_SHARE = 0). The unguarded halving (the onset and grid tests of
`halves_the_beat` only) lists every reading a guard can keep or let go: per such item the label tempo, main's and
the halved tempo, whether the halving fixes a doubled reading ("fix"), breaks a right one ("BREAK") or neither,
whether the candidate halves it, and the guards' readings at main's beats: pulse (beats.pulse_evenness), kit
(onsets.percussive_share) and common (beat_sounds.weak_beat_common_share: how much of the weak beats' onset spectra
sounds on three in four of them). Then per family, and overall as the mean of the families, Acc1, beat F,
downbeat F and metre for main and for the candidate (`--set NAME=VALUE`, beats constants; without it the
module's own values).

Caches need the log-mel spectrogram (bench/music_cache.py records it since 2026-12-05). Fit data: the test set's
train split, bench/chorale_fit_corpus.py's renders and bench/click_family.py's fit items; held out: the test split,
the click check items, bench/folk_check.py's renders, bench/chorale_check.py's (rendered with --out).

Usage: python bench/weak_beat_sounds.py --split train --also bench/out/click_fit bench/out/music_cache_click_fit \
           [--no-testset] [--set HALVE_COMMON_SHARE=1e9 HALVE_KIT_SHARE=0.09 ...] [-v]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chorale_rhythm_fit import cached, decode, envelopes  # noqa: E402
from bench.music_cache import CACHE, TESTSET  # noqa: E402
from bench.music_scores import beat_f, metre_class, print_main_vs_candidate, tempo_scores  # noqa: E402
from worker.music import beats as beats_mod  # noqa: E402

OFF = 1e9
UNGUARDED = {"HALVE_PULSE_EVENNESS": OFF, "HALVE_KIT_SHARE": OFF, "HALVE_COMMON_SHARE": OFF}
MAIN = {"HALVE_ONSET_SHARE": 0.0}


def decoded(d: dict, settings: dict[str, float]):
    saved = {k: getattr(beats_mod, k) for k in settings}
    try:
        for k, v in settings.items():
            setattr(beats_mod, k, v)
        return decode(d)
    finally:
        for k, v in saved.items():
            setattr(beats_mod, k, v)


def scores(t: dict, r) -> tuple[float, float, float, float]:
    a1 = tempo_scores(t["tempo_bpm"], r.tempo_bpm)[0] if t.get("tempo_bpm") else float("nan")
    ts = None if not r.beats_per_bar else (f"{3 * r.beats_per_bar}/8" if r.compound else f"{r.beats_per_bar}/4")
    return (a1, beat_f(t["beats"], r.beat_times), beat_f(t["downbeats"], r.downbeat_times),
            float(metre_class(ts) == metre_class(t["time_signature"])))


def guard_readings(d: dict, r) -> dict[str, float]:
    b = r.beat_times - beats_mod.BEAT_LATENCY_SECONDS
    env = envelopes(d)
    out = {"pulse": beats_mod.pulse_evenness(env, b) if env else float("nan"),
           "kit": float(d.get("percussive", np.nan))}
    if "logmel" in d:
        from worker.music.beat_sounds import weak_beat_common_share  # the tried diff's

        out["common"] = weak_beat_common_share(d["logmel"], b)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="train")
    ap.add_argument("--family", nargs="+", default=None)
    ap.add_argument("--also", nargs=2, action="append", default=[], type=Path, metavar=("ITEMS", "CACHE"))
    ap.add_argument("--no-testset", action="store_true", help="only the --also folders")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="a worker.music.beats constant")
    ap.add_argument("-v", "--verbose", action="store_true", help="every item's readings, not only the halved")
    args = ap.parse_args(argv)
    if not hasattr(beats_mod, "HALVE_COMMON_SHARE"):
        sys.exit("the halving is not shipped: git apply docs/tried/weak_beat_sounds_2026-12-05.diff first")
    candidate = {}
    for item in args.set:
        name, value = item.split("=", 1)
        if not hasattr(beats_mod, name):
            sys.exit(f"worker.music.beats has no {name}")
        candidate[name] = float(value)
    folders = [] if args.no_testset else [(TESTSET, CACHE)]
    rows = cached(args.split, args.family, (*folders, *(tuple(p) for p in args.also)))
    per: dict[str, dict[str, list]] = {}
    for t, d in rows:
        r0, ru, rc = decoded(d, MAIN), decoded(d, UNGUARDED), decoded(d, candidate)
        s0, sc = scores(t, r0), scores(t, rc)
        fam = per.setdefault(t["family"], {"main": [], "cand": []})
        fam["main"].append(s0)
        fam["cand"].append(sc)
        label = t.get("tempo_bpm") or 0.0
        halved = (r0.tempo_bpm or 0) != (ru.tempo_bpm or 0)
        if not (halved or args.verbose) or not r0.tempo_bpm:
            continue
        a0, au = (tempo_scores(label, r.tempo_bpm)[0] if label else float("nan") for r in (r0, ru))
        verdict = "fix" if (a0, au) == (0.0, 1.0) else "BREAK" if (a0, au) == (1.0, 0.0) else "-"
        kept = "halved" if rc.tempo_bpm != r0.tempo_bpm else "kept"
        x = guard_readings(d, r0)
        print(f"{t['name']:24s} {label:6.1f} {r0.tempo_bpm:6.1f} -> {ru.tempo_bpm or 0:6.1f} "
              f"{verdict if halved else '':5s} {kept if halved else '':6s} "
              + " ".join(f"{k} {v:5.2f}" for k, v in x.items()), flush=True)
    print(f"candidate: {' '.join(args.set) or 'the module as it is'}")
    print_main_vs_candidate(per, ("acc1", "beat F", "downbeat F", "metre"))

if __name__ == "__main__":
    main()
