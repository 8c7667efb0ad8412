"""Fit the bar decoder's constants (worker/music/beats.py: FOUR_BIAS, HARMONY_WEIGHT, START_BONUS)
on the fit split only, from the features bench/music_cache.py recorded.

Tempo and beats do not depend on these constants, so they are decoded once per item; then each
setting in a small grid picks bars (beats.choose_bars) and is scored by downbeat F and metre,
each family counting once. The test split is read only with --report, which prints the chosen
setting's per-family figures on it (nothing is chosen there).

Usage: python bench/downbeat_fit.py [--report]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_cache import CACHE, TESTSET  # noqa: E402
from bench.music_scores import beat_f, metre_class  # noqa: E402
from worker.music import beats as beats_mod  # noqa: E402
from worker.music.rhythm import beat_chroma  # noqa: E402

GRID = {
    "FOUR_BIAS": (0.0, 0.05, 0.1),
    "HARMONY_WEIGHT": (0.03, 0.05, 0.08, 0.12),
    "START_BONUS": tuple((a, b) for a in (0.0, 0.05, 0.1, 0.15) for b in (0.0, 0.05, 0.1, 0.15)),
}


def load(split: str) -> list[dict]:
    """Per cached item of `split`: truth, downbeat activation, beats, compound flag, beat chroma."""
    rows = []
    for path in sorted(CACHE.glob("*.npz")):
        truth = json.loads((TESTSET / f"{path.stem}.json").read_text())
        if truth["split"] != split:
            continue
        d = dict(np.load(path))
        r = beats_mod.decode(d["act"], duration=float(d["duration"]))
        if r.beats_per_bar is None or len(r.beat_times) < 2:
            rows.append({"truth": truth, "beats": None})
            continue
        b = r.beat_times
        harmony = (beat_chroma(b, d["chroma"], d["times"]), beat_chroma(b, d["bass"], d["times"]))
        rows.append({"truth": truth, "beats": b, "down": d["act"][1], "compound": r.compound, "harmony": harmony})
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
        metre, phase, _ = beats_mod.choose_bars(row["down"], row["beats"], compound=row["compound"],
                                                harmony=lambda _b, h=row["harmony"]: h)
        down = row["beats"][phase::metre] if metre else np.zeros(0)
        fam["down_f"].append(beat_f(truth["downbeats"], down))
        ts = None if not metre else (f"{3 * metre}/8" if row["compound"] else f"{metre}/4")
        fam["metre"].append(float(metre_class(ts) == metre_class(truth["time_signature"])))
    out = {f: {m: float(np.mean(v)) for m, v in ms.items()} for f, ms in sorted(per.items())}
    out["overall"] = {m: float(np.mean([out[f][m] for f in per])) for m in ("down_f", "metre")}
    return out


def show(label: str, s: dict) -> None:
    print(f"{label}: " + "  ".join(f"{f} {v['down_f']:.3f}/{v['metre']:.3f}" for f, v in s.items()), flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", action="store_true", help="also score the chosen setting on the test split")
    args = ap.parse_args(argv)
    current = {k: getattr(beats_mod, k) for k in GRID}
    fit = load("train")
    print(f"{len(fit)} fit items (down F / metre per family)")
    show("current " + str(current), score(fit, current))
    results = []
    for values in itertools.product(*GRID.values()):
        settings = dict(zip(GRID, values, strict=True))
        s = score(fit, settings)
        results.append((s["overall"]["down_f"] + s["overall"]["metre"], settings, s))
    results.sort(key=lambda r: r[0], reverse=True)
    for _, settings, s in results[:5]:
        show(str(settings), s)
    best = results[0][1]
    if args.report:
        test = load("test")
        show(f"test, current ({len(test)} items)", score(test, current))
        show("test, best", score(test, best))


if __name__ == "__main__":
    main()
