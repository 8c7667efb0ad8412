"""What a semantic search's query embedding costs: numpy BERT (library/bert_numpy.py) against transformers.

Per path, fresh Python processes (alternating numpy / transformers) each time: the first query (imports + model
load + one embedding, from the script's start), the warm per-query time (median of 20), and the process' RSS after
the first query. Then, in one process, batches of 64 passages (20-200 words, as transcripts give) both ways: texts/s.

    python3 -m bench.library_query_cost [--runs 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = {"numpy": "queries", "transformers": "indexing"}  # embedder purpose -> the path it takes for MiniLM
WARM_QUERIES = 20
BATCH_TEXTS = 64
BATCH_REPEATS = 3
WORDS = ("river road night dance light love heart rain walking city dream fire sky song blue slow guitar drum "
         "voice morning home leave summer cold church choir bass loud soft").split()

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from library.embedding import embedder
embed = embedder({{"TORCH_NUM_THREADS": {threads}}}, purpose={purpose!r})
embed(["a walk by the river at night"])
first = time.perf_counter() - t0
rss_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
warm = []
for k in range({warm}):
    t = time.perf_counter()
    embed([f"song number {{k}} about a walk by the river"])
    warm.append(time.perf_counter() - t)
warm.sort()
print(json.dumps({{"first_s": first, "warm_ms": 1000 * warm[len(warm) // 2], "rss_mb": rss_kb / 1024,
                  "torch": "torch" in sys.modules}}))
"""


def fresh_process(*, purpose: str, threads: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD.format(purpose=purpose, threads=threads, warm=WARM_QUERIES)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def passages(*, count: int, seed: int = 0) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, int(rng.integers(20, 200)))) for _ in range(count)]


def batch_speed(*, threads: int) -> dict[str, float]:
    from library.embedding import embedder

    texts = passages(count=BATCH_TEXTS)
    embedders = {name: embedder({"TORCH_NUM_THREADS": threads}, purpose=p) for name, p in PATHS.items()}
    for embed in embedders.values():
        embed(texts[:4])  # warm
    times: dict[str, list[float]] = {name: [] for name in embedders}
    for _ in range(BATCH_REPEATS):
        for name, embed in embedders.items():
            t = time.perf_counter()
            embed(texts)
            times[name].append(time.perf_counter() - t)
    return {name: BATCH_TEXTS / statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="TORCH_NUM_THREADS (numpy uses one BLAS thread)")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {name: [] for name in PATHS}
    for _ in range(args.runs):
        for name, purpose in PATHS.items():  # alternating, so machine load falls on both alike
            results[name].append(fresh_process(purpose=purpose, threads=args.threads))
    medians = {name: {key: statistics.median(r[key] for r in runs) for key in ("first_s", "warm_ms", "rss_mb")}
               for name, runs in results.items()}
    for name, m in medians.items():
        torch_loaded = {r["torch"] for r in results[name]}
        runs = ", ".join(f"{r['first_s']:.2f}" for r in results[name])
        print(f"{name:12s} first query {m['first_s']:.2f} s (runs: {runs}), warm query {m['warm_ms']:.1f} ms, "
              f"RSS {m['rss_mb']:.0f} MB, torch imported: {sorted(torch_loaded)}")
    n, t = medians["numpy"], medians["transformers"]
    print(f"ratio transformers/numpy: first query {t['first_s'] / n['first_s']:.1f}x, warm query "
          f"{t['warm_ms'] / n['warm_ms']:.2f}x, RSS {t['rss_mb'] / n['rss_mb']:.1f}x")
    speed = batch_speed(threads=args.threads)
    print(f"batches of {BATCH_TEXTS} passages (20-200 words): "
          + ", ".join(f"{name} {rate:.1f} texts/s" for name, rate in speed.items()))


if __name__ == "__main__":
    main()
