"""Model-layer figures: SmolLM2 load from safetensors vs GGUF, generation tokens/s, model switch time,
and ModelManager.status() latency while a generation runs in another thread.

    python bench/models_bench.py [--runs 3] [--gguf-runs 1] [--tokens 64] [--threads 1] [--models-dir D]

Medians of several runs; the GGUF load is the baseline the safetensors folder is compared with. The
SmolLM2 folder is converted into MODELS_DIR on the first run (what the worker does on first load).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import MODEL_REGISTRY, load_settings  # noqa: E402
from models import ModelManager  # noqa: E402
from worker.llm.loading import load_llm, release_memory  # noqa: E402
from worker.llm.options import GenerateOptions  # noqa: E402
from worker.llm.weights import ensure_local_weights, pypi_gguf_file, registry_entry  # noqa: E402

PROMPT = "Describe the sound of a string quartet playing a slow movement in a minor key."


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def load_gguf(gguf: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    del tokenizer, model


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gguf-runs", type=int, default=1, help="GGUF loads take ~20-35 s each here")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models-dir", default=None)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    env = {"TORCH_NUM_THREADS": str(args.threads)}
    if args.models_dir:
        env["MODELS_DIR"] = args.models_dir
    settings = load_settings({**os.environ, **env}, dotenv=False)
    entry = registry_entry("smollm2-135m", MODEL_REGISTRY)
    convert_s = timed(lambda: ensure_local_weights(entry, settings))
    folder = ensure_local_weights(entry, settings)
    print(f"SmolLM2 folder: {folder} (ensure/convert took {convert_s:.1f} s this run)")

    # 1. load: safetensors folder vs the PyPI GGUF (dequantized by transformers at load)
    load_llm(entry, folder, device="cpu", num_threads=args.threads)  # warm imports and page cache
    release_memory()
    st = []
    for _ in range(args.runs):
        st.append(timed(lambda: load_llm(entry, folder, device="cpu", num_threads=args.threads)))
        gc.collect()
    gguf = pypi_gguf_file(entry)
    gg = []
    for _ in range(args.gguf_runs):
        gg.append(timed(lambda: load_gguf(gguf)))
        gc.collect()
    st_med, gg_med = statistics.median(st), statistics.median(gg)
    print(f"load safetensors: median {st_med:.2f} s over {len(st)} runs {[round(x, 2) for x in st]}")
    print(f"load GGUF:        median {gg_med:.2f} s over {len(gg)} runs {[round(x, 2) for x in gg]}")
    print(f"GGUF / safetensors load time ratio: {gg_med / st_med:.1f}x")

    # 2. generation speed (greedy, fixed length: the EOS is suppressed by asking for a long answer)
    manager = ModelManager(settings)
    manager.load_llm("smollm2-135m")
    rates = []
    for _ in range(args.runs):
        result = manager.generate(GenerateOptions(prompt=PROMPT, max_length=args.tokens, temperature=0))
        rates.append(result["tokens_per_second"])
    print(f"generate: median {statistics.median(rates):.1f} tokens/s ({result['tokens_generated']} tokens, "
          f"{args.threads} thread(s)) runs {rates}")

    # 3. status() latency while a long generation runs in another thread
    latencies: list[float] = []
    done = threading.Event()
    worker = threading.Thread(target=lambda: (manager.generate(GenerateOptions(
        prompt=PROMPT, max_length=4 * args.tokens, temperature=0)), done.set()))
    worker.start()
    while not done.is_set():
        latencies.append(timed(manager.status) * 1000)
        done.wait(0.01)
    worker.join()
    print(f"status() during generation: p50 {percentile(latencies, 50):.2f} ms, "
          f"p99 {percentile(latencies, 99):.2f} ms over {len(latencies)} calls")

    # 4. switch time: SmolLM2 ↔ a tiny Gemma 3n (unload + gc + load each way)
    from tests.tiny_llms import build_tiny_gemma3n

    with tempfile.TemporaryDirectory() as tmp:
        tiny = build_tiny_gemma3n(Path(tmp) / "gemma3n")
        switch_settings = {**settings, "MODEL_PATHS": {**settings["MODEL_PATHS"], "GEMMA_E2B_MODEL_PATH": str(tiny)}}
        switcher = ModelManager(switch_settings)
        switcher.load_llm("smollm2-135m")
        to_tiny, to_smol, unload_s = [], [], []
        for _ in range(args.runs):
            to_tiny.append(timed(lambda: switcher.load_llm("gemma-3n-E2B")))
            report = None

            def back():
                nonlocal report
                report = switcher.load_llm("smollm2-135m")

            to_smol.append(timed(back))
            unload_s.append(report["unloaded"]["seconds"])
        switcher.unload_all()
    print(f"switch SmolLM2 → tiny Gemma 3n: median {statistics.median(to_tiny):.2f} s")
    print(f"switch tiny Gemma 3n → SmolLM2: median {statistics.median(to_smol):.2f} s "
          f"(of which unload+gc {statistics.median(unload_s):.2f} s)")
    manager.unload_all()


if __name__ == "__main__":
    main()
