"""Seconds per minute of audio for the full-size HTDemucs architecture (random weights run at the speed of the
real ones): our constant-memory segmented runner vs demucs' own apply_model, same model, same input, same run.

    python bench/separation_bench.py [--seconds 30] [--repeats 3] [--threads 2]
    python bench/separation_bench.py --memory [--memory-minutes 3 6]

--memory: peak RSS of each implementation (each in a fresh process, tiny HTDemucs so it runs fast) on tracks of
growing length: ours streams file -> stem files; apply_model needs the whole track and all stems in memory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SR = 44100  # Hz


def full_size_htdemucs():
    """The published htdemucs' architecture: 4 sources, 48 channels, 5 transformer layers, 512 bottom
    channels, 7.8 s training segment (~41.5 M parameters)."""
    import torch
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    return HTDemucs(sources=["drums", "bass", "other", "vocals"], segment=Fraction(39, 5),
                    bottom_channels=512).eval()


def _memory_child(which: str, minutes: float, folder: str) -> None:
    """Run one implementation on `minutes` of audio and print the process' peak RSS in MB."""
    import resource

    import soundfile as sf
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from tiny_audio_models import tiny_htdemucs

    torch.set_num_threads(1)
    model = tiny_htdemucs()
    audio = Path(folder) / f"track_{minutes:g}.wav"
    if which == "ours":
        from worker.separation.options import SeparationOptions
        from worker.separation.pipeline import Separator, run_separation

        run_separation(audio_path=audio, results_dir=Path(folder) / f"out_{minutes:g}",
                       options=SeparationOptions(model="htdemucs", shifts=0, format="flac"),
                       separator_or_model=Separator(model))
    else:
        from demucs.apply import apply_model

        wav, _ = sf.read(audio, dtype="float32")
        x = torch.from_numpy(wav.T.copy())
        ref = x.mean(0)
        with torch.no_grad():
            out = apply_model(model, ((x - ref.mean()) / ref.std())[None], shifts=0, split=True, overlap=0.25)
        del out
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def memory_bench(minutes_list: list[float]) -> None:
    import subprocess
    import tempfile

    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        print("peak RSS (MB), tiny HTDemucs, one process per run, FLAC stems for ours")
        for minutes in minutes_list:
            n = int(minutes * 60 * SR)
            rng = np.random.default_rng(0)
            with sf.SoundFile(Path(tmp) / f"track_{minutes:g}.wav", "w", SR, 2, subtype="FLOAT") as f:
                for i in range(0, n, SR * 10):
                    f.write((0.1 * rng.standard_normal((min(SR * 10, n - i), 2))).astype(np.float32))
            row = {}
            for which in ("ours", "apply_model"):
                res = subprocess.run([sys.executable, __file__, "--child", which, str(minutes), tmp],
                                     capture_output=True, text=True, check=True)
                row[which] = float(res.stdout.strip().splitlines()[-1])
            print(f"  {minutes:4g} min: ours {row['ours']:7.0f} MB   apply_model {row['apply_model']:7.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--memory-minutes", type=float, nargs="+", default=[3.0, 6.0])
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _memory_child(args.child[0], float(args.child[1]), args.child[2])
    if args.memory:
        return memory_bench(args.memory_minutes)

    import torch
    from demucs.apply import apply_model

    from worker.separation.pipeline import Separator

    torch.set_num_threads(args.threads)
    model = full_size_htdemucs()
    params = sum(p.numel() for p in model.parameters())
    rng = np.random.default_rng(0)
    t = np.arange(int(args.seconds * SR)) / SR
    wav = np.stack([0.3 * np.sin(2 * np.pi * 110 * t), 0.3 * np.sin(2 * np.pi * 165 * t)]).astype(np.float32)
    wav += 0.05 * rng.standard_normal(wav.shape).astype(np.float32)
    sep = Separator(model, shifts=0, overlap=0.25)
    x = torch.from_numpy(wav)
    ref = x.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8

    def ours():
        return sep.separate_array(wav, SR)

    def theirs():
        with torch.no_grad():
            return apply_model(model, ((x - mean) / std)[None], shifts=0, split=True, overlap=0.25)[0] * std + mean

    ours()  # warm-up (allocator, FFT plans) so neither side pays it in the timings
    times = {"ours": [], "apply_model": []}
    for _ in range(args.repeats):  # interleaved so machine load drifts hit both alike
        for name, fn in (("ours", ours), ("apply_model", theirs)):
            t0 = time.perf_counter()
            out = fn()
            times[name].append(time.perf_counter() - t0)
    a, b = ours(), theirs()
    diff = max(float(np.abs(a[s] - b[i].numpy()).max()) for i, s in enumerate(model.sources))
    per_min = {k: statistics.median(v) * 60.0 / args.seconds for k, v in times.items()}
    print(f"HTDemucs full size: {params / 1e6:.1f} M parameters, {args.seconds:g} s stereo 44.1 kHz, "
          f"{args.threads} threads, shifts=0, overlap 0.25, median of {args.repeats}")
    for k, v in per_min.items():
        print(f"  {k:12s} {v:6.1f} s per minute of audio   (runs: {', '.join(f'{s:.1f}' for s in times[k])} s)")
    print(f"  ratio ours / apply_model: {per_min['ours'] / per_min['apply_model']:.3f}")
    print(f"  max |difference| between the two outputs: {diff:.2e}")
    del out


if __name__ == "__main__":
    main()
