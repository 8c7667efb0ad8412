"""Seconds per second of audio of the weight-free stems (`repet`, `hpss`) at 22.05-96 kHz, this tree against
another revision (default: the one before the STFT was sized in seconds), alternating in one session.

    python bench/dsp_stems_rates.py --audio race1-jt.ogg [--old-rev b23f0c3] [--model repet] [--repeats 3]
                                    [--rates 22050,44100,48000,96000] [--lengths 1,20]

The audio (any real recording) is resampled to each rate with soxr and cut to each length. Each run is a fresh
process that imports the code, then times one `run_separation` (the job's work: decoding, windows, writing the
stems) and when its progress first rose above 0; the imports a worker preloads are not counted, numba's cache is
shared and warm.
The old revision is taken whole with `git archive`. Prints each run, then medians and new/old ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.old_tree import unpack_revision  # noqa: E402

OLD_REV = "b23f0c3"  # fixed 2048/512 STFT, short files padded to a 30 s window

CHILD = r"""
import json, sys, time
from pathlib import Path
from worker.separation.options import SeparationOptions
from worker.separation.pipeline import run_separation
audio, out, model = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
# imports are the worker's (jobs/warmup.py preloads them before its pool forks), not the job's
import librosa.core, librosa.filters, librosa.util, librosa.decompose, librosa.segment, soxr
first = []
def progress(fraction, stage):
    if fraction > 0 and not first:
        first.append(time.perf_counter())
t = time.perf_counter()
run_separation(audio_path=audio, results_dir=out, options=SeparationOptions(model=model), progress=progress)
end = time.perf_counter()
print(json.dumps({"seconds": end - t, "first_progress": (first or [end])[0] - t}))
"""


def _clips(audio: str, rates: list[int], lengths: list[float], folder: Path) -> dict[tuple[int, float], Path]:
    import librosa
    import soundfile as sf

    y, sr = sf.read(audio, dtype="float32", always_2d=True)
    start = min(int(20 * sr), max(0, y.shape[0] - int(max(lengths) * sr)))  # past a quiet intro
    clips = {}
    for rate in rates:
        z = y.T if rate == sr else librosa.resample(y.T, orig_sr=sr, target_sr=rate, res_type="soxr_hq")
        first = start * rate // sr
        for seconds in lengths:
            path = folder / f"clip_{rate}_{seconds:g}.wav"
            sf.write(path, z[:, first:first + int(seconds * rate)].T, rate, subtype="FLOAT")
            clips[rate, seconds] = path
    return clips


def _run(tree: Path, clip: Path, model: str, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(clip), str(out), model], cwd=tree, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--audio", required=True)
    ap.add_argument("--old-rev", default=OLD_REV)
    ap.add_argument("--model", default="repet", choices=["repet", "hpss"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rates", default="22050,44100,48000,96000")
    ap.add_argument("--lengths", default="1,20")
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    lengths = [float(s) for s in args.lengths.split(",")]
    with tempfile.TemporaryDirectory(prefix="dsp-rates-") as scratch:
        folder = Path(scratch)
        old = unpack_revision(args.old_rev, folder / "old")
        clips = _clips(args.audio, rates, lengths, folder)
        trees = {"old": old, "new": ROOT}
        for tree in trees.values():  # numba's cache and the imports' bytecode, before any timing
            _run(tree, clips[rates[0], lengths[0]], args.model, folder / "out")
        runs: dict[tuple[str, int, float], list[dict]] = {}
        for i in range(args.repeats):
            for (rate, seconds), clip in clips.items():
                for name, tree in trees.items():
                    r = _run(tree, clip, args.model, folder / "out")
                    runs.setdefault((name, rate, seconds), []).append(r)
                    print(f"run {i + 1} {name} {rate} Hz {seconds:g} s: {r['seconds']:.2f} s, first progress "
                          f"{r['first_progress']:.2f} s", flush=True)
        print(f"\n{args.model}, medians of {args.repeats} (s per s of audio; first progress in s)")
        print(f"{'rate':>6} {'len':>4} {'old':>7} {'new':>7} {'ratio':>6} {'old 1st':>8} {'new 1st':>8}")
        for rate in rates:
            for seconds in lengths:
                med = {n: statistics.median(r["seconds"] for r in runs[n, rate, seconds]) / seconds for n in trees}
                fst = {n: statistics.median(r["first_progress"] for r in runs[n, rate, seconds]) for n in trees}
                print(f"{rate:>6} {seconds:>4g} {med['old']:>7.3f} {med['new']:>7.3f} "
                      f"{med['new'] / med['old']:>6.2f} {fst['old']:>8.2f} {fst['new']:>8.2f}")


if __name__ == "__main__":
    main()
