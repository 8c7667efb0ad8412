"""Fit the bar decoder's constants (worker/music/beats.py: FOUR_BIAS, HARMONY_WEIGHT, START_BONUS)
on the fit split only, from the features bench/music_cache.py recorded, and compare decoders.

Tempo and beats do not depend on these constants, so they are decoded once per item; then each
setting in a small grid picks bars (beats.choose_bars) and is scored by downbeat F and metre,
each family counting once. The test split is read only with --report, which prints round 1's
decoder and the current constants side by side on it (nothing is chosen there): tempo Acc1/Acc2,
beat F, downbeat F and metre per family, as bench/pitch_accuracy.py scores them.

Usage: python bench/downbeat_fit.py            # grid on the fit split
       python bench/downbeat_fit.py --report   # round 1 vs current on the test split
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
    "FOUR_BIAS": (0.05, 0.1),
    "HARMONY_WEIGHT": (0.03, 0.05),
    "START_BONUS": tuple((a, b) for a in (0.0, 0.1, 0.2, 0.3) for b in (0.0, 0.1, 0.2, 0.3, 0.4)),
    "PARITY_WEIGHT": (0.0, 0.05, 0.1, 0.2, 0.4),
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


def compare(split: str, settings: dict[str, dict]) -> None:
    """Tempo, beats, bars and metre per family on `split` under each named setting (full decode)."""
    from bench.music_scores import tempo_scores

    items = []
    for path in sorted(CACHE.glob("*.npz")):
        truth = json.loads((TESTSET / f"{path.stem}.json").read_text())
        if truth["split"] == split:
            items.append((truth, dict(np.load(path))))
    print(f"{split} split, {len(items)} items: acc1 acc2 beat_f down_f metre per family")
    for label, values in settings.items():
        for k, v in values.items():
            setattr(beats_mod, k, v)
        per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for truth, d in items:
            def harmony(b, d=d):
                return (None, None) if len(b) < 2 else (beat_chroma(b, d["chroma"], d["times"]),
                                                        beat_chroma(b, d["bass"], d["times"]))
            r = beats_mod.decode(d["act"], duration=float(d["duration"]), harmony=harmony)
            fam = per[truth["family"]]
            if truth.get("tempo_bpm"):
                a1, a2 = tempo_scores(truth["tempo_bpm"], r.tempo_bpm)
                fam["acc1"].append(a1)
                fam["acc2"].append(a2)
            fam["beat_f"].append(beat_f(truth["beats"], r.beat_times))
            fam["down_f"].append(beat_f(truth["downbeats"], r.downbeat_times))
            ts = None if not r.beats_per_bar else (f"{3 * r.beats_per_bar}/8" if r.compound else f"{r.beats_per_bar}/4")
            fam["metre"].append(float(metre_class(ts) == metre_class(truth["time_signature"])))
        metrics = ("acc1", "acc2", "beat_f", "down_f", "metre")
        rows = {f: {m: float(np.mean(v)) for m, v in ms.items()} for f, ms in sorted(per.items())}
        rows["overall"] = {m: float(np.mean([rows[f][m] for f in per if m in rows[f]])) for m in metrics}
        for fam_name, row in rows.items():
            cells = " ".join(f"{row[m]:.3f}" if m in row else "  -  " for m in metrics)
            print(f"  {label:8s} {fam_name:8s} {cells}", flush=True)


ROUND1 = {"FOLLOW_TEMPO": False, "START_BONUS": (0.0, 0.0), "FOUR_BIAS": 0.05,
          "HARMONY_WEIGHT": 0.03}  # the previous decoder (README figures of round 1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", action="store_true", help="round 1 vs current, test split")
    ap.add_argument("--top", type=int, default=5, help="settings shown, best first")
    args = ap.parse_args(argv)
    current = {k: getattr(beats_mod, k) for k in (*GRID, "FOLLOW_TEMPO")}
    if args.report:
        compare("test", {"round1": ROUND1, "current": current})
        return
    fit = load("train")
    print(f"{len(fit)} fit items (down F / metre per family)")
    show("current " + str(current), score(fit, current))
    results = []
    for values in itertools.product(*GRID.values()):
        settings = dict(zip(GRID, values, strict=True))
        s = score(fit, settings)
        results.append((s["overall"]["down_f"] + s["overall"]["metre"], settings, s))
    results.sort(key=lambda r: r[0], reverse=True)
    for _, settings, s in results[: args.top]:
        show(str(settings), s)


if __name__ == "__main__":
    main()
