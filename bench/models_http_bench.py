"""GET /api/v2/models/status under gunicorn while the GPU worker runs a long generation.

Status must never wait behind work: it is one Redis GET of the state the worker publishes.
Prints p50/p99 with wrk (or a Python client when wrk is absent), and the same with the worker idle
as the baseline of this run.

    python bench/models_http_bench.py [--smollm2-dir DIR]
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BASE = "http://127.0.0.1:8789"
AUTH = ("bench", "bench-password")


def measure(seconds: float = 6.0) -> tuple[float, str, str]:
    if shutil.which("wrk"):
        token = base64.b64encode(":".join(AUTH).encode()).decode()
        out = subprocess.run(["wrk", "-t1", "-c4", f"-d{seconds:g}s", "--latency", "-H",
                              f"Authorization: Basic {token}", f"{BASE}/api/v2/models/status"],
                             capture_output=True, text=True, check=True).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
        p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
        return rps, p50, p99
    s = requests.Session()
    s.auth = AUTH
    lat = []
    end = time.time() + seconds
    while time.time() < end:
        t0 = time.perf_counter()
        s.get(f"{BASE}/api/v2/models/status")
        lat.append(time.perf_counter() - t0)
    lat.sort()
    return len(lat) / seconds, f"{statistics.median(lat) * 1000:.2f}ms", f"{lat[int(len(lat) * 0.99)] * 1000:.2f}ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smollm2-dir", default=str(ROOT / ".pytest_cache" / "d" / "smollm2"))
    args = parser.parse_args()
    from werkzeug.security import generate_password_hash

    from redis_server import ensure_redis
    from tests.tiny_llms import converted_smollm2

    folder = converted_smollm2(Path(args.smollm2_dir))
    tmp = Path(tempfile.mkdtemp())
    redis_url, embedded = ensure_redis("redis://127.0.0.1:6379/12", tmp)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = {**os.environ, "REDIS_URL": redis_url, "DATA_DIR": str(tmp / "data"), "MODELS_DIR": str(tmp / "models"),
           "SMOLLM2_MODEL_PATH": str(folder), "TORCH_NUM_THREADS": "1",
           "AUTH_USERS": f"bench:{generate_password_hash(AUTH[1])}"}
    procs = [
        subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "8", "-b",
                          BASE.rsplit("/", 1)[-1], "app:create_app()"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "celery", "-A", "make_celery", "worker", "-Q", "gpu", "--pool", "solo",
                          "-n", "gpu-bench@x", "--loglevel", "ERROR"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL),
    ]
    try:
        s = requests.Session()
        s.auth = AUTH
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if s.post(f"{BASE}/jobs/probe", json={"queue": "gpu", "wait": 5}, timeout=10).ok:
                    break
            except requests.RequestException:
                pass
        r = s.post(f"{BASE}/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 120}, timeout=130)
        print(f"load smollm2-135m through the queue: {r.status_code}, load_seconds {r.json().get('load_seconds')}")
        measure(3.0)  # warm-up: imports, pools and page faults in each API process
        idle = measure()
        print(f"status, worker idle:            {idle[0]:.0f} req/s, p50 {idle[1]}, p99 {idle[2]}")
        job = s.post(f"{BASE}/api/v2/models/generate", json={"prompt": "Tell a long story about drums.",
                                                             "max_length": 400, "temperature": 0, "wait": 0}).json()
        busy = measure()
        state = s.get(f"{BASE}/jobs/{job['job_id']}").json()["state"]
        print(f"status, during a generation:    {busy[0]:.0f} req/s, p50 {busy[1]}, p99 {busy[2]} "
              f"(generation job still {state} at the end of the window)")
        s.delete(f"{BASE}/jobs/{job['job_id']}")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=60)
        if embedded:
            embedded.stop()


if __name__ == "__main__":
    main()
