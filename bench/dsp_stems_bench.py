"""Seconds per minute of audio of the weight-free `hpss` stems (worker/separation/dsp.py), its medians computed
line by line (worker/median.py) against scipy's general median filter (what it used before), alternating in one run.

    python bench/dsp_stems_bench.py [--audio FILE] [--seconds 30] [--repeats 3]

Without --audio, a synthetic mix of tones and clicks. Prints each run and the medians' ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SR = 44100  # Hz


def _audio(path: str | None, seconds: float) -> np.ndarray:
    if path:
        import soundfile as sf

        y, sr = sf.read(path, dtype="float32", always_2d=True)
        if sr != SR:
            import librosa

            y = librosa.resample(y.T, orig_sr=sr, target_sr=SR).T
        return np.ascontiguousarray(y.T[None, :, : int(seconds * SR)])
    t = np.arange(int(seconds * SR)) / SR
    tones = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    clicks = (np.random.default_rng(0).standard_normal(t.size) * (t % 0.5 < 0.01)).astype(np.float32)
    mono = (0.2 * tones + clicks).astype(np.float32)
    return np.stack([mono, mono])[None]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--audio")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import scipy.ndimage as ndi

    import worker.median as median
    from worker.separation.dsp import HPSS

    x = _audio(args.audio, args.seconds)
    minutes = x.shape[-1] / SR / 60
    line_by_line = median.median_along

    def general(a, *, size, axis, mode="reflect"):
        return ndi.median_filter(a, size=tuple(size if i == axis else 1 for i in range(a.ndim)), mode=mode)

    hpss = HPSS()
    hpss(x, SR)  # first call: imports and FFT plans
    runs: dict[str, list[float]] = {"line by line": [], "general filter": []}
    for _ in range(args.repeats):
        for name, fn in (("line by line", line_by_line), ("general filter", general)):
            median.median_along = fn  # dsp.py imports it at each call
            t = time.perf_counter()
            hpss(x, SR)
            runs[name].append((time.perf_counter() - t) / minutes)
            print(f"{name}: {runs[name][-1]:.2f} s per minute of audio", flush=True)
    median.median_along = line_by_line
    a, b = (statistics.median(runs[k]) for k in ("line by line", "general filter"))
    print(f"hpss stems, median of {args.repeats}: line by line {a:.2f} s/min, general filter {b:.2f} s/min, "
          f"ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
