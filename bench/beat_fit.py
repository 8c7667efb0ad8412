"""Fit the beat decoder's few constants (worker/music/beats.py) on fit data only.

Activations of the trained network are computed once per item of the *train* split and of
the validation tenth of the training corpus (clips the network never trained on), then the
decoder is scored for each setting in a small grid: tempo prior centre/width and
half-period weight (tempo Acc1, then beat F), and the 4-beat bias (downbeat F).

Usage: python bench/beat_fit.py [--limit N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.music_scores import beat_f, metre_class, tempo_scores  # noqa: E402
from worker.audio_io import load_audio  # noqa: E402
from worker.music import beatnet  # noqa: E402
from worker.music import beats as beats_mod  # noqa: E402
from worker.music.onsets import onset_features  # noqa: E402

TESTSET = ROOT / "bench" / "out" / "pitch_testset"
SR = 22050


def fit_items(limit: int | None, *, folk: bool = False) -> list[tuple[Path, dict]]:
    """The test set's train split and the training clips the network held out for validation (the tenth
    bench/beat_train.py sets aside: the corpus's and, for a network trained with --folk, the folk tunes')."""
    from bench.beat_train import training_items

    out = [(path, m) for k, (path, m) in enumerate(training_items(folk=folk))
           if k % 10 == 9 and path.parent != TESTSET]
    out += [(TESTSET / m["audio"], m) for m in json.loads((TESTSET / "manifest.json").read_text())
            if m["split"] == "train"]
    return out[:limit] if limit else out


def activations(items) -> list[tuple[dict, np.ndarray, float, object]]:
    """(item, (3, T) activations, duration, harmony callable for the bar evidence) per item."""
    from worker.music import chroma as chroma_mod
    from worker.music.rhythm import beat_chroma

    rows = []
    for path, item in items:
        y, _ = load_audio(path, sr=SR, mono=True)
        y = y / (np.abs(y).max() + 1e-9)
        h = chroma_mod.harmonic_features(y)

        def harmony(beats, h=h):
            if len(beats) < 2:
                return None, None
            return beat_chroma(beats, h.chroma, h.times), beat_chroma(beats, h.bass, h.times)

        rows.append((item, beatnet.activations(onset_features(y).logmel), len(y) / SR, harmony))
    return rows


def score(rows, **params) -> dict[str, float]:
    for k, v in params.items():
        setattr(beats_mod, k, v)
    acc1, acc2, bf, df, metre = [], [], [], [], []
    for item, act, dur, harmony in rows:
        r = beats_mod.decode(act, duration=dur, harmony=harmony)
        if item.get("tempo_bpm"):
            a1, a2 = tempo_scores(item["tempo_bpm"], r.tempo_bpm)
            acc1.append(a1)
            acc2.append(a2)
        bf.append(beat_f(item["beats"], r.beat_times))
        df.append(beat_f(item["downbeats"], r.downbeat_times))
        if r.beats_per_bar:
            ts = f"{3 * r.beats_per_bar}/8" if r.compound else f"{r.beats_per_bar}/4"
            metre.append(float(metre_class(ts) == metre_class(item["time_signature"])))
        else:
            metre.append(0.0)
    return {"acc1": np.mean(acc1), "acc2": np.mean(acc2), "beat_f": np.mean(bf), "down_f": np.mean(df),
            "metre": np.mean(metre)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    rows = activations(fit_items(args.limit))
    print(f"{len(rows)} fit items")
    grid = itertools.product((110.0, 120.0, 130.0), (1.0, 1.5, 2.0), (-0.3,))
    results = []
    for bpm, octv, half in grid:
        s = score(rows, NET_PRIOR_BPM=bpm, NET_PRIOR_OCTAVES=octv, NET_HALF_WEIGHT=half)
        results.append(((s["acc1"], s["beat_f"]), bpm, octv, half, s))
    results.sort(key=lambda r: r[0], reverse=True)
    for _, bpm, octv, half, s in results[:8]:
        cells = " ".join(f"{k} {v:.3f}" for k, v in s.items())
        print(f"prior {bpm:5.0f} BPM width {octv:.1f} half {half:+.1f}: {cells}")
    _, bpm, octv, half, _ = results[0]
    for bias in (0.0, 0.02, 0.05):
        for hw in (0.0, 0.01, 0.03, 0.1):
            s = score(rows, NET_PRIOR_BPM=bpm, NET_PRIOR_OCTAVES=octv, NET_HALF_WEIGHT=half, FOUR_BIAS=bias,
                      HARMONY_WEIGHT=hw)
            print(f"four bias {bias:.2f} harmony weight {hw:.2f}: down_f {s['down_f']:.3f} metre {s['metre']:.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
