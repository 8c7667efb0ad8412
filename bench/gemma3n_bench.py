"""Audio-LLM job figures: time per minute of audio for decoding and for the features + prompt-building stage
(Gemma3NProcessor.preprocess, no generation), for the audio path (Gemma 3n: 30 s chunks, per-chunk features,
16 kHz resampling) and the text path (SmolLM2: timeline sections); then SmolLM2 generation tokens/s on the
job's features prompt.

    python bench/gemma3n_bench.py [--runs 3] [--minutes 1 5] [--tokens 64] [--threads 1]

Baselines measured in the same run: compute_features alone on the whole file (what the features job pays),
and SmolLM2 on a one-line prompt (so the prompt's prefill cost shows). Medians of --runs runs. The Gemma 3n
weights are not needed: preprocess reads only the registry entry (modalities, clip length).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from config import load_settings  # noqa: E402
from models import ModelManager  # noqa: E402
from worker.audio_io import load_audio  # noqa: E402
from worker.audio_llm.options import Gemma3NOptions  # noqa: E402
from worker.audio_llm.processor import Gemma3NProcessor  # noqa: E402
from worker.features.descriptors import compute_features  # noqa: E402
from worker.llm.options import GenerateOptions  # noqa: E402

SR = 44100  # Hz
SHORT_PROMPT = "Describe the sound of a string quartet playing a slow movement in a minor key."


def synth(minutes: float, *, sr: int = SR) -> np.ndarray:
    """(2, n) float32: chords changing every 4 s over light noise, so sections differ."""
    rng = np.random.default_rng(0)
    n = int(minutes * 60 * sr)
    t = np.arange(n) / sr
    roots = np.array([220.0, 246.94, 196.0, 174.61])[(t // 4).astype(int) % 4]
    y = sum(0.15 * np.sin(2 * np.pi * roots * ratio * t) for ratio in (1.0, 1.26, 1.5))
    y = (y + 0.02 * rng.standard_normal(n)).astype(np.float32)
    return np.stack([y, 0.8 * y])


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--smollm2", default=None, help="a converted SmolLM2 folder (default: pytest's cache)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    root = Path(__file__).resolve().parents[1]
    smollm2 = Path(args.smollm2 or root / ".pytest_cache/d/smollm2/HuggingFaceTB/SmolLM2-135M-Instruct")
    tmp = Path(tempfile.mkdtemp(prefix="g3n-bench-"))
    env = {"MODELS_DIR": str(tmp / "models"), "TORCH_NUM_THREADS": str(args.threads)}
    if smollm2.is_dir():
        env["SMOLLM2_MODEL_PATH"] = str(smollm2)
    manager = ModelManager(load_settings(env, dotenv=False))
    processor = Gemma3NProcessor(manager)
    audio_opts = Gemma3NOptions(task="analyze", model_variant="gemma-3n-E4B")
    text_opts = Gemma3NOptions(task="analyze", model_variant="smollm2-135m", temperature=0,
                               max_new_tokens=args.tokens)
    compute_features(synth(0.05), SR)  # imports and first-call setup outside the timings

    print(f"threads={args.threads} runs={args.runs} (medians)\n")
    print(f"{'audio':>7} | {'decode':>8} | {'features only':>13} | {'preprocess audio path':>21} | "
          f"{'preprocess text path':>20} | ratio audio/features")
    prepared_text = None
    for minutes in args.minutes:
        path = tmp / f"bench_{minutes:g}min.wav"
        sf.write(path, synth(minutes).T, SR)
        decode = median_time(partial(load_audio, path), args.runs)
        y, sr = load_audio(path)
        features = median_time(partial(compute_features, y, sr), args.runs)
        audio_path = median_time(partial(processor.preprocess, y, sr, options=audio_opts, filename=path.name),
                                 args.runs)
        text_path = median_time(partial(processor.preprocess, y, sr, options=text_opts, filename=path.name),
                                args.runs)
        if prepared_text is None:
            prepared_text = processor.preprocess(y, sr, options=text_opts, filename=path.name)
        print(f"{minutes:>5g} m | {decode / minutes:>6.3f} s | {features / minutes:>11.3f} s | "
              f"{audio_path / minutes:>19.3f} s | {text_path / minutes:>18.3f} s | {audio_path / features:.2f}x"
              "   (seconds per minute of audio)")

    if "SMOLLM2_MODEL_PATH" not in env:
        print(f"\nno SmolLM2 folder at {smollm2}: run the tests once (they convert it) or pass --smollm2")
        return
    manager.load_llm("smollm2-135m")
    call = prepared_text.calls[0]
    short = GenerateOptions(prompt=SHORT_PROMPT, system=call.options.system, max_length=args.tokens,
                            temperature=0, model_type="smollm2-135m")
    rates: dict[str, list[float]] = {"job prompt": [], "short prompt": []}
    prompt_tokens = {}
    manager.generate(short)  # warm-up: first-call kernels and caches
    for _ in range(args.runs):
        for name, options in (("job prompt", call.options), ("short prompt", short)):
            result = manager.generate(options)
            rates[name].append(result["tokens_generated"] / result["seconds"])
            prompt_tokens[name] = result["prompt_tokens"]
    print(f"\nSmolLM2-135M generation, greedy, {args.tokens} new tokens max (tokens/s incl. prefill):")
    for name, values in rates.items():
        print(f"  {name:<12} prompt {prompt_tokens[name]:>4} tokens: {statistics.median(values):6.1f} tokens/s")
    ratio = statistics.median(rates["job prompt"]) / statistics.median(rates["short prompt"])
    print(f"  ratio job/short prompt: {ratio:.2f}")
    manager.unload_all()


if __name__ == "__main__":
    main()
