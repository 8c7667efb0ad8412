"""MusicGen pipeline overhead beyond `generate` itself, with the tiny random MusicGen.

Baseline: `model.generate` called directly with the same tokens and settings. Pipeline: `run_musicgen`
(tokenising, progress criterion, seeding, trimming, WAV + JSON written atomically). Overhead = pipeline - baseline.

    python bench/musicgen_bench.py [--seconds 5] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from tests.tiny_audio_models import build_tiny_musicgen
    from worker.musicgen.options import MusicGenOptions
    from worker.musicgen.pipeline import run_musicgen
    from worker.musicgen.weights import load_musicgen

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_tiny_musicgen(root / "facebook" / "musicgen-small")
        t0 = time.perf_counter()
        bundle, _ = load_musicgen("musicgen-small", models_dir=root)
        load = time.perf_counter() - t0
        opts = MusicGenOptions(prompt="calm piano beat", duration_seconds=args.seconds, seed=1)
        tokens = int(args.seconds * bundle.frame_rate) + bundle.num_codebooks - 1
        inputs = bundle.tokenizer([opts.prompt], padding=True, return_tensors="pt")

        def baseline():
            torch.manual_seed(1)
            with torch.inference_mode():
                bundle.model.generate(**inputs, do_sample=True, top_k=opts.top_k, temperature=opts.temperature,
                                      guidance_scale=opts.guidance_scale, max_new_tokens=tokens)

        def pipeline(i):
            run_musicgen(results_dir=root / f"out{i}", options=opts, bundle=bundle, progress=lambda f, s: None)

        baseline()
        pipeline(-1)  # warm-up
        base, pipe = [], []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            baseline()
            base.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pipeline(i)
            pipe.append(time.perf_counter() - t0)
    b, p = statistics.median(base), statistics.median(pipe)
    print(f"tiny MusicGen, {args.seconds:g} s of audio ({tokens} tokens), {args.threads} thread(s), "
          f"median of {args.repeats}; load {load:.2f} s")
    print(f"  generate alone  {b * 1000:8.1f} ms")
    print(f"  run_musicgen    {p * 1000:8.1f} ms")
    print(f"  overhead        {(p - b) * 1000:8.1f} ms  ({(p - b) / b * 100:+.1f} % of generate; "
          f"the real musicgen-small generates ~100x slower, so the fixed overhead shrinks accordingly)")


if __name__ == "__main__":
    main()
