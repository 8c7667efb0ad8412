"""The compound-or-simple decision and the slow-reading subdivision on a cached family (what issue 12's MMA fit
family was studied with, 2026-12-07; docs/music_accuracy.md).

Reads the features bench/music_cache.py recorded for a folder of rendered items and prints:
- metre and downbeat F per family (each family counting once) as the compound decision would make them with the
  pitch-flux envelope held at its peak over HOLD frames either side before the beats' thirds and half are
  sampled (0: the shipped point sample) and SUBDIVISION_WEIGHT (beats.is_compound); tempo and beats are the
  shipped decoder's, decoded once;
- every reading the comb gives under beats.SLOW_TEMPO_BPM: its label and the share of the slow grid's beat
  activation each faster grid keeps (beats.subdivided_tempo takes the largest at or above SUBDIVIDE_SHARE).

Usage (the MMA fit family; its held-out twin, seed 991000, is never read here):
  python bench/mma_family.py --seed 993000 --out bench/out/mma_fit
  python bench/music_cache.py --testset bench/out/mma_fit --cache bench/out/music_cache_mma_fit
  python bench/compound_fit.py bench/out/mma_fit bench/out/music_cache_mma_fit
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.downbeat_fit import envelopes  # noqa: E402
from bench.music_cache import items as items_of  # noqa: E402
from bench.music_scores import beat_f, metre_class  # noqa: E402
from worker.music import beats as beats_mod  # noqa: E402
from worker.music.rhythm import MAX_BPM, beat_chroma, estimate_tempo  # noqa: E402

HOLDS = (0, 1, 2, 3)  # frames either side
WEIGHTS = (0.5, 1.0, 1.5)


def held(env: np.ndarray, frames: int) -> np.ndarray:
    if frames <= 0:
        return env
    padded = np.pad(env, frames, mode="edge")
    return np.max(np.stack([padded[k : k + len(env)] for k in range(2 * frames + 1)]), axis=0)


def load(testset: Path, cache: Path) -> tuple[list[dict], list[str]]:
    truths = {m["name"]: m for m in items_of(testset)}
    rows, slow = [], []
    for path in sorted(cache.glob("*.npz")):
        truth = truths[path.stem]
        if "beats" not in truth:
            continue
        d = dict(np.load(path))
        env = envelopes(d)
        beat = d["act"][0].astype(np.float64)
        comb, _, _ = estimate_tempo(beat, prior_bpm=beats_mod.NET_PRIOR_BPM,
                                    prior_octaves=beats_mod.NET_PRIOR_OCTAVES, half_weight=beats_mod.NET_HALF_WEIGHT)
        if comb is not None and beats_mod.tempo_of_a_changing_piece(beat, comb) < beats_mod.SLOW_TEMPO_BPM:
            comb = beats_mod.tempo_of_a_changing_piece(beat, comb)
            grid = beats_mod.grid_strength(beat, comb)
            kept = " ".join(f"x{k} {beats_mod.grid_strength(beat, comb * k) / grid:.2f}" for k in (2, 3, 4)
                            if comb * k <= MAX_BPM and grid > 0)
            slow.append(f"  {truth['name']} {truth['time_signature']:5s} {truth.get('style', '')[:26]:26s} "
                        f"label {truth['tempo_bpm']:6.1f} read {comb:5.1f} kept {kept}")

        def harmony(b: np.ndarray, d: dict = d) -> tuple:
            return (None, None) if len(b) < 2 else (beat_chroma(b, d["chroma"], d["times"]),
                                                    beat_chroma(b, d["bass"], d["times"]))

        r = beats_mod.decode(d["act"], duration=float(d["duration"]), harmony=harmony, envelopes=env)
        b = r.beat_times - beats_mod.BEAT_LATENCY_SECONDS  # the beats the decoder read the textures at
        if r.beats_per_bar is None or len(b) < 3 or env is None:
            rows.append({"truth": truth, "beats": None})
            continue
        rows.append({"truth": truth, "beats": b, "down": d["act"][1], "harmony": harmony(b),
                     "activation": beats_mod.compound_activation(d["act"]),
                     "patterns": {h: beats_mod.beat_patterns([held(e, h) for e in env], b) for h in HOLDS}})
    return rows, slow


def score(rows: list[dict], hold: int) -> dict[str, dict[str, float]]:
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        truth = row["truth"]
        fam = per[truth["family"]]
        if row["beats"] is None:
            fam["metre"].append(0.0)
            fam["down_f"].append(0.0)
            continue
        compound = row["activation"] is not None and beats_mod.is_compound(row["activation"], row["patterns"][hold])
        metre, phase, _ = beats_mod.choose_bars(row["down"], row["beats"], compound=compound,
                                                harmony=lambda _b, h=row["harmony"]: h, patterns=row["patterns"][0])
        ts = None if not metre else (f"{3 * metre}/8" if compound else f"{metre}/4")
        fam["metre"].append(float(metre_class(ts) == metre_class(truth["time_signature"])))
        down = row["beats"][phase::metre] + beats_mod.BEAT_LATENCY_SECONDS if metre else np.zeros(0)
        fam["down_f"].append(beat_f(truth["downbeats"], down))
    out = {f: {m: float(np.mean(v)) for m, v in ms.items()} for f, ms in sorted(per.items())}
    out["overall"] = {m: float(np.mean([out[f][m] for f in per])) for m in ("metre", "down_f")}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("items", type=Path, help="rendered items (each with its .json)")
    ap.add_argument("cache", type=Path, help="their bench/music_cache.py folder")
    args = ap.parse_args(argv)
    rows, slow = load(args.items, args.cache)
    print(f"{len(rows)} items; metre / downbeat F per family")
    shipped = beats_mod.SUBDIVISION_WEIGHT
    for hold in HOLDS:
        for weight in WEIGHTS:
            beats_mod.SUBDIVISION_WEIGHT = weight
            s = score(rows, hold)
            print(f"hold {hold} weight {weight:3.1f}: " + "  ".join(f"{f} {v['metre']:.3f}/{v['down_f']:.3f}"
                                                                  for f, v in s.items()), flush=True)
    beats_mod.SUBDIVISION_WEIGHT = shipped
    print(f"{len(slow)} read under {beats_mod.SLOW_TEMPO_BPM:g} BPM (SUBDIVIDE_SHARE {beats_mod.SUBDIVIDE_SHARE}):")
    print("\n".join(slow))


if __name__ == "__main__":
    main()
