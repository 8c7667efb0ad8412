"""Fit the bar decoder's constants (worker/music/beats.py: FOUR_BIAS, HARMONY_WEIGHT, START_BONUS,
PARITY_WEIGHT, PATTERN_WEIGHT, SUBDIVISION_WEIGHT/OFFSET) on the fit split only, from the features
bench/music_cache.py recorded, and compare decoders.

Tempo and beats do not depend on these constants, so they are decoded once per item; then each
setting in a small grid picks the compound reading and bars (beats.is_compound, beats.choose_bars) and is
scored by downbeat F and metre, each family counting once. `--also ITEMS CACHE` adds another folder's train
items (the drum-less folk tunes: bench/folk_family.py, cached by `bench/music_cache.py --testset
bench/out/music_train_folk --cache bench/out/music_cache_folk`), `--only NAME=V1,V2 ...` grids only those
constants. The test split is read only with --report, which prints round 1's decoder and the current constants
side by side on it (nothing is chosen there): tempo Acc1/Acc2, beat F, downbeat F and metre per family, as
bench/pitch_accuracy.py scores them.

The repetition and subdivision constants (2026-12-01): `--also bench/out/music_train_folk
bench/out/music_cache_folk --only SUBDIVISION_WEIGHT=0,0.1,0.2,0.3,0.5,1.0 SUBDIVISION_OFFSET=-0.25,0,0.25,0.5`
(then 0.75-5 and -0.1-0.2 around the best), then PATTERN_WEIGHT=0,0.25,0.5,1.0 at the best: 1.0, 0.0 and 0.5
(fit metre 0.926 -> 0.954, folk tunes 0.530 -> 0.725, every other family unchanged; downbeat F 0.898 -> 0.897).

`--full --only NAME=V1,V2 ...` decodes tempo and beats too under each setting and prints every column per family
on the fit items (how halving beats that alternate was tried on 2026-12-01 and not kept: the README).

Usage: python bench/downbeat_fit.py            # grid on the fit split
       python bench/downbeat_fit.py --report   # round 1 vs current on the test split
       python bench/downbeat_fit.py --also ITEMS CACHE --only PATTERN_WEIGHT=0,0.5,1
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_cache import CACHE, TESTSET  # noqa: E402
from bench.music_cache import items as items_of  # noqa: E402
from bench.music_scores import beat_f, metre_class  # noqa: E402
from worker.music import beats as beats_mod  # noqa: E402
from worker.music.rhythm import beat_chroma  # noqa: E402

GRID = {
    "FOUR_BIAS": (0.05, 0.1),
    "HARMONY_WEIGHT": (0.03, 0.05),
    "START_BONUS": tuple((a, b) for a in (0.0, 0.1, 0.2, 0.3) for b in (0.0, 0.1, 0.2, 0.3, 0.4)),
    "PARITY_WEIGHT": (0.0, 0.05, 0.1, 0.2, 0.4),
    "PATTERN_WEIGHT": (0.0,),
    "SUBDIVISION_WEIGHT": (0.0,),
    "SUBDIVISION_OFFSET": (0.0,),
}


def envelopes(d: dict) -> list[np.ndarray] | None:
    """The onset envelopes a cache file recorded (older caches have none)."""
    if "onset_full" not in d:
        return None
    return [d[f"onset_{name}"].astype(np.float64) for name in ("full", "low", "pitch")]


def load(split: str, folders: tuple[tuple[Path, Path], ...] = ((TESTSET, CACHE),)) -> list[dict]:
    """Per cached item of `split`: truth, downbeat activation, beats, the network's compound activation, beat
    chroma and the beats' onset textures.
    folders: (rendered items, their music_cache) pairs."""
    rows = []
    for testset, cache in folders:
        rows += _load(split, testset, cache)
    return rows


def _load(split: str, testset: Path, cache: Path) -> list[dict]:
    truths = {m["name"]: m for m in items_of(testset)}
    rows: list[dict[str, Any]] = []
    for path in sorted(cache.glob("*.npz")):
        truth = truths[path.stem]
        if "beats" not in truth:  # a classical movement whose notation does not fix the beat
            continue
        if truth["split"] != split:
            continue
        d = dict(np.load(path))
        r = beats_mod.decode(d["act"], duration=float(d["duration"]))
        if r.beats_per_bar is None or len(r.beat_times) < 2:
            rows.append({"truth": truth, "beats": None})
            continue
        b = r.beat_times
        harmony = (beat_chroma(b, d["chroma"], d["times"]), beat_chroma(b, d["bass"], d["times"]))
        env = envelopes(d)
        rows.append({"truth": truth, "beats": b, "down": d["act"][1], "harmony": harmony,
                     "compound_act": beats_mod.compound_activation(d["act"]),
                     "patterns": beats_mod.beat_patterns(env, b) if env else None})
    return rows


def score(rows: list[dict], settings: dict) -> dict[str, dict[str, float]]:
    for k, v in settings.items():
        setattr(beats_mod, k, v)
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        truth = row["truth"]
        fam = per[truth["family"]]
        if row["beats"] is None:
            fam["down_f"].append(0.0)
            fam["metre"].append(0.0)
            continue
        compound = (row["compound_act"] is not None
                    and beats_mod.is_compound(row["compound_act"], row["patterns"]))
        metre, phase, _ = beats_mod.choose_bars(row["down"], row["beats"], compound=compound,
                                                harmony=lambda _b, h=row["harmony"]: h, patterns=row["patterns"])
        down = row["beats"][phase::metre] if metre else np.zeros(0)
        fam["down_f"].append(beat_f(truth["downbeats"], down))
        ts = None if not metre else (f"{3 * metre}/8" if compound else f"{metre}/4")
        fam["metre"].append(float(metre_class(ts) == metre_class(truth["time_signature"])))
    out = {f: {m: float(np.mean(v)) for m, v in ms.items()} for f, ms in sorted(per.items())}
    out["overall"] = {m: float(np.mean([out[f][m] for f in per])) for m in ("down_f", "metre")}
    return out


def show(label: str, s: dict) -> None:
    print(f"{label}: " + "  ".join(f"{f} {v['down_f']:.3f}/{v['metre']:.3f}" for f, v in s.items()), flush=True)


def add_decoded_scores(fam: dict[str, list[float]], truth: dict, d: dict, act: np.ndarray | None = None) -> None:
    """Decode one cached item in full (`act`: activations in place of the cached ones) and append its tempo
    Acc1/Acc2, beat F, downbeat F and metre to `fam`'s lists."""
    from bench.music_scores import tempo_scores

    def harmony(b, d=d):
        return (None, None) if len(b) < 2 else (beat_chroma(b, d["chroma"], d["times"]),
                                                beat_chroma(b, d["bass"], d["times"]))

    r = beats_mod.decode(d["act"] if act is None else act, duration=float(d["duration"]), harmony=harmony,
                         envelopes=envelopes(d))
    if truth.get("tempo_bpm"):
        a1, a2 = tempo_scores(truth["tempo_bpm"], r.tempo_bpm)
        fam["acc1"].append(a1)
        fam["acc2"].append(a2)
    fam["beat_f"].append(beat_f(truth["beats"], r.beat_times))
    fam["down_f"].append(beat_f(truth["downbeats"], r.downbeat_times))
    ts = None if not r.beats_per_bar else (f"{3 * r.beats_per_bar}/8" if r.compound else f"{r.beats_per_bar}/4")
    fam["metre"].append(float(metre_class(ts) == metre_class(truth["time_signature"])))


def compare(split: str, settings: dict[str, dict],
            folders: tuple[tuple[Path, Path], ...] = ((TESTSET, CACHE),)) -> None:
    """Tempo, beats, bars and metre per family on `split` of `folders` ((rendered items, their music_cache)
    pairs) under each named setting (full decode)."""

    items = []
    for testset, cache in folders:
        truths = {m["name"]: m for m in items_of(testset)}
        for path in sorted(cache.glob("*.npz")):
            truth = truths[path.stem]
            if truth["split"] == split and "beats" in truth:
                items.append((truth, dict(np.load(path))))
    print(f"{split} split, {len(items)} items: acc1 acc2 beat_f down_f metre per family")
    for label, values in settings.items():
        for k, v in values.items():
            setattr(beats_mod, k, v)
        per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for truth, d in items:
            add_decoded_scores(per[truth["family"]], truth, d)
        metrics = ("acc1", "acc2", "beat_f", "down_f", "metre")
        rows = {f: {m: float(np.mean(v)) for m, v in ms.items()} for f, ms in sorted(per.items())}
        rows["overall"] = {m: float(np.mean([rows[f][m] for f in per if m in rows[f]])) for m in metrics}
        for fam_name, row in rows.items():
            cells = " ".join(f"{row[m]:.3f}" if m in row else "  -  " for m in metrics)
            print(f"  {label:8s} {fam_name:8s} {cells}", flush=True)


ROUND1 = {"FOLLOW_TEMPO": False, "START_BONUS": (0.0, 0.0), "FOUR_BIAS": 0.05,
          "HARMONY_WEIGHT": 0.03}  # the previous decoder (README figures of round 1)


def setting_value(text: str) -> float | tuple[int, ...]:
    """A constant's value on the command line: a number, or a tuple of integers written 2:3:4."""
    return tuple(int(x) for x in text.split(":")) if ":" in text else float(text)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", action="store_true", help="round 1 vs current, test split")
    ap.add_argument("--top", type=int, default=5, help="settings shown, best first")
    ap.add_argument("--also", nargs=2, action="append", default=[], type=Path, metavar=("ITEMS", "CACHE"),
                    help="fit on this folder's train items too (bench/music_cache.py --testset ITEMS --cache CACHE)")
    ap.add_argument("--only", nargs="+", default=None, metavar="NAME=V1,V2",
                    help="grid only these constants over these values (a tuple as 3:4), the others at their "
                         "current values")
    ap.add_argument("--full", action="store_true",
                    help="decode tempo and beats too for each --only setting (so constants they depend on, "
                         "NET_PRIOR_BPM say, can be tried) and print every column per family on the fit items")
    args = ap.parse_args(argv)
    current = {k: getattr(beats_mod, k) for k in (*GRID, "FOLLOW_TEMPO")}
    if args.report:
        compare("test", {"round1": ROUND1, "current": current})
        return
    folders = ((TESTSET, CACHE), *(tuple(pair) for pair in args.also))
    if args.full:
        specs = [spec.split("=", 1) for spec in args.only or []]
        combos = itertools.product(*(tuple(setting_value(x) for x in values.split(",")) for _, values in specs))
        compare("train", {" ".join(map(str, combo)) or "current": dict(zip([n for n, _ in specs], combo, strict=True))
                          for combo in combos}, folders)
        return
    fit = load("train", folders)
    print(f"{len(fit)} fit items (down F / metre per family)")
    show("current " + str(current), score(fit, current))
    grid = dict(GRID)
    if args.only:
        grid = {k: (v,) for k, v in current.items() if k in GRID}
        for spec in args.only:
            name, values = spec.split("=", 1)
            grid[name] = tuple(float(x) for x in values.split(","))
    results = []
    for values in itertools.product(*grid.values()):
        settings = dict(zip(grid, values, strict=True))
        s = score(fit, settings)
        results.append((s["overall"]["down_f"] + s["overall"]["metre"], settings, s))
    results.sort(key=lambda r: r[0], reverse=True)
    for _, settings, s in results[: args.top]:
        show(str(settings), s)


if __name__ == "__main__":
    main()
