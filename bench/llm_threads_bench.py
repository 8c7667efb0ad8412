"""SmolLM2-135M generation speed on the CPU at 1 and 2 torch threads, idle and beside a competing CPU load.

    python bench/llm_threads_bench.py [--runs 3] [--tokens 32] [--threads 1 2]

What TORCH_NUM_THREADS' `auto` default (config.torch_threads) rests on: the GPU worker's LLM shares the host's cores
with the CPU worker's pool processes, and torch's threads spin while they wait for each other, so a thread that
loses its core to another process stalls every token. The competing load is one process running a numpy/librosa
loop (one BLAS thread), as one features job of the CPU pool does. Greedy decoding of exactly `--tokens` new tokens
(min_new_tokens), plain transformers; medians of `--runs` runs per case, and the ratios to 1 thread idle. The folder
is the converted SmolLM2 the tests use (tests/tiny_llms.converted_smollm2: ~30 s the first time on a machine).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "Describe the sound of a string quartet playing a slow movement in a minor key."


def busy_loop(stop) -> None:  # type: ignore[no-untyped-def]
    """One core's worth of what an analysis job does: STFTs and matrix products, one BLAS thread."""
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"
    import librosa
    import numpy as np

    signal = np.random.default_rng(0).standard_normal(22050 * 5).astype(np.float32)
    while not stop.is_set():
        spectrum = np.abs(librosa.stft(signal))
        spectrum @ spectrum.T


def tokens_per_second(model, tokenizer, tokens: int) -> float:  # type: ignore[no-untyped-def]
    import torch

    text = tokenizer.apply_chat_template([{"role": "user", "content": PROMPT}], add_generation_prompt=True,
                                         tokenize=False)
    ids = tokenizer(text, return_tensors="pt").input_ids
    started = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=tokens, min_new_tokens=tokens,
                             do_sample=False)
    generated = out.shape[1] - ids.shape[1]
    return generated / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.shared_cache import smollm2_cache_dir
    from tests.tiny_llms import converted_smollm2

    folder = converted_smollm2(smollm2_cache_dir())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    cores = len(os.sched_getaffinity(0))
    print(f"SmolLM2-135M, {args.tokens} tokens greedy, medians of {args.runs}; cores usable here: {cores}; "
          f"load average at start: {os.getloadavg()[0]:.2f}")
    tokens_per_second(model, tokenizer, 4)  # warm-up
    results: dict[tuple[str, int], float] = {}
    for load in ("idle", "loaded"):
        spawn = mp.get_context("spawn")  # a fresh interpreter: none of this one's torch threads
        stop = spawn.Event()
        competitor = None
        if load == "loaded":
            competitor = spawn.Process(target=busy_loop, args=(stop,), daemon=True)
            competitor.start()
            time.sleep(3)  # the competitor's imports, so it competes from the first run on
        try:
            for threads in args.threads:
                torch.set_num_threads(threads)
                runs = [tokens_per_second(model, tokenizer, args.tokens) for _ in range(args.runs)]
                results[(load, threads)] = statistics.median(runs)
                print(f"  {load:6} {threads} thread(s): {results[(load, threads)]:6.2f} tok/s "
                      f"(runs {', '.join(f'{r:.2f}' for r in runs)})", flush=True)
        finally:
            stop.set()
            if competitor is not None:
                competitor.join(timeout=30)
    base = results[("idle", args.threads[0])]
    print(f"ratios to {args.threads[0]} thread(s) idle:")
    for (load, threads), value in results.items():
        print(f"  {load:6} {threads} thread(s): {value / base:.2f}x")


if __name__ == "__main__":
    main()
