"""SmolLM2-135M on the CPU: TORCH_NUM_THREADS=auto's old fixed share against the count that follows the CPU pool
(alone, and with the cores other programs keep busy: worker/llm/host_load.py, what the GPU worker runs).

    python bench/llm_pool_threads_bench.py [--runs 5] [--tokens 32]

The old `auto` fixed torch's threads at the load: the usable cores minus CPU_CONCURRENCY (run.py's default, one pool
process per core: 1 thread, whatever the pool was doing). The adaptive one (worker/llm/threads.py) takes the cores the
pool's running jobs on this host leave, read from Redis (jobs/host_pool.py) at the generation's start and at most
once a second after. Two cases of the pool: idle, and one CPU job running (bench/llm_threads_bench.py's busy loop,
one BLAS thread, as one features job; counted on this host as the runner counts a job). Each generation goes through
the ModelManager and worker/llm/generate.py as a generate job does (greedy, `--tokens` new tokens at most, a progress
callback so the checkpoints run); old and adaptive runs alternate, so a load from elsewhere weighs on both alike.
Medians of `--runs`, their ratios, the threads each ran with, and the load average (other work on the host).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.llm_threads_bench import PROMPT, busy_loop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()

    import redis
    import torch

    from config import load_settings, torch_threads, usable_cores
    from jobs.host_pool import HostPool
    from models import ModelManager
    from redis_server import start_embedded
    from tests.shared_cache import smollm2_cache_dir
    from tests.tiny_llms import converted_smollm2
    from worker.llm.host_load import cores_taken
    from worker.llm.options import GenerateOptions
    from worker.llm.threads import PoolThreads

    folder = converted_smollm2(smollm2_cache_dir())
    tmp = Path(tempfile.mkdtemp(prefix="pool-threads-bench-"))
    server = start_embedded(tmp)
    pool = HostPool(redis.Redis(port=server.port), host=f"bench-{os.getpid()}", lease_seconds=3600)
    cores = usable_cores()
    settings = load_settings({"MODELS_DIR": str(tmp / "models"), "SMOLLM2_MODEL_PATH": str(folder), "DEVICE": "cpu",
                              "CPU_CONCURRENCY": str(cores)}, dotenv=False)
    fixed = torch_threads(settings, device="cpu")  # the old auto: the cores minus CPU_CONCURRENCY, at least 1
    manager = ModelManager(settings, pool_jobs=pool.running)
    manager.load_llm("smollm2-135m")
    llm = manager.current_llm()
    assert llm is not None and llm.threads is not None
    modes = {"pool only": llm.threads, "pool + host load": PoolThreads(cores_taken(pool.running))}
    options = GenerateOptions(prompt=PROMPT, max_length=args.tokens, temperature=0)

    def run(mode: str) -> tuple[float, int]:
        seen: list[int] = []
        llm.threads = modes.get(mode)
        if mode == "old fixed":
            torch.set_num_threads(fixed)
        result = manager.generate(options, progress=lambda fraction, stage: seen.append(torch.get_num_threads()))
        return float(result["tokens_generated"]) / float(result["seconds"]), max(seen or [0])

    print(f"SmolLM2-135M, up to {args.tokens} tokens greedy, medians of {args.runs}; usable cores {cores}, "
          f"CPU_CONCURRENCY {cores} (old auto: {fixed} thread(s)); load average at start "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    run("pool only")  # warm-up
    results: dict[tuple[str, str], tuple[float, int, list[float]]] = {}
    try:
        for load in ("pool idle", "1 CPU job"):
            spawn = mp.get_context("spawn")
            stop = spawn.Event()
            competitor = None
            if load != "pool idle":
                competitor = spawn.Process(target=busy_loop, args=(stop,), daemon=True)
                competitor.start()
                time.sleep(3)  # the competitor's imports, so it competes from the first run on
            try:
                with pool.counting(f"bench-job-{load}", competitor is not None):
                    runs: dict[str, list[tuple[float, int]]] = {"old fixed": [], **{m: [] for m in modes}}
                    for _ in range(args.runs):
                        for mode in runs:
                            runs[mode].append(run(mode))
            finally:
                stop.set()
                if competitor is not None:
                    competitor.join(timeout=30)
            for mode, got in runs.items():
                rates = [r for r, _ in got]
                results[(load, mode)] = (statistics.median(rates), max(t for _, t in got), rates)
    finally:
        server.stop()
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    base = results[("pool idle", "old fixed")][0]
    print("| pool | mode | threads (most) | tok/s | / old fixed, same pool | / old fixed, pool idle |\n"
          "|---|---|---|---|---|---|")
    for load in ("pool idle", "1 CPU job"):
        old = results[(load, "old fixed")]
        for mode in ("old fixed", *modes):
            got = results[(load, mode)]
            print(f"| {load} | {mode} | {got[1]} | {got[0]:.2f} | {got[0] / old[0]:.2f}x | {got[0] / base:.2f}x |")
    for (load, mode), (_, _, rates) in results.items():
        print(f"  runs, {load}, {mode}: {', '.join(f'{r:.2f}' for r in rates)}")


if __name__ == "__main__":
    main()
