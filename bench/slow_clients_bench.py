"""Slow clients vs the API, with and without the nginx front: /health and an authenticated GET /jobs/<id>
timed while N slowloris sockets hang (half partial headers, half a 500 MB Content-Length with 6 bytes).

    python bench/slow_clients_bench.py [--sockets 200] [--requests 150] [--seconds 30]

Starts `run.py --front none` (gunicorn serves the port, as before the front) and `run.py --front nginx`
on free ports with a throwaway data directory and an embedded valkey, and prints p50/p99 for each.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from werkzeug.security import generate_password_hash

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.slow_clients import drip, open_slow_sockets, server_closed, summary, timed_get  # noqa: E402

AUTH = ("bench", "slow clients bench password")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(front: str, tmp: Path) -> tuple[subprocess.Popen, int]:
    proc, port, _, _ = start_run(["--front", front], tmp / front, auth=AUTH)
    return proc, port


def start_run(options: list[str], data: Path, *, auth: tuple[str, str]) -> tuple[subprocess.Popen, int, str, Path]:
    """`run.py <options>` (CPU worker only) on a free port with its own valkey and DATA_DIR and the one user
    `auth`, serving /health: (process, port, REDIS_URL, DATA_DIR)."""
    port, redis_url = free_port(), f"redis://127.0.0.1:{free_port()}/0"
    env = {**os.environ, "DATA_DIR": str(data), "REDIS_URL": redis_url,
           "AUTH_USERS": f"{auth[0]}:{generate_password_hash(auth[1])}", "AUTH_DISABLED": "0"}
    proc = subprocess.Popen([sys.executable, "run.py", "--port", str(port), *options, "--no-gpu-worker",
                             "--cpu-concurrency", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if timed_get("127.0.0.1", port, "/health", None, 2) < 2:
            return proc, port, redis_url, data
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"run.py {' '.join(options)} did not serve /health in 120 s")


def measure(port: int, sockets: int, count: int, seconds: float) -> None:
    r = requests.post(f"http://127.0.0.1:{port}/jobs/probe", json={"queue": "cpu", "wait": 30}, auth=AUTH, timeout=40)
    job_path = f"/jobs/{r.json()['job_id']}"
    for _ in range(4):
        timed_get("127.0.0.1", port, job_path, AUTH, 5)
    baseline = [timed_get("127.0.0.1", port, "/health", None, 2) for _ in range(count)]
    print(f"  no slow sockets:  /health {summary(baseline)}")
    socks = open_slow_sockets("127.0.0.1", port, sockets, AUTH)
    health, job = [], []
    deadline = time.monotonic() + seconds  # a blocked server times out every request: bound the run
    for i in range(count):
        if time.monotonic() > deadline:
            break
        health.append(timed_get("127.0.0.1", port, "/health", None, 2))
        job.append(timed_get("127.0.0.1", port, job_path, AUTH, 2))
        if i % 25 == 0:
            drip(socks[: sockets // 2])
    hanging = sum(not server_closed(s) for s in socks)
    print(f"  {sockets} slow sockets ({hanging} still hanging at the end):\n"
          f"    /health              {summary(health)}\n    GET /jobs/<id> auth  {summary(job)}")
    for s in socks:
        s.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=30, help="stop measuring after this long")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for front in ("none", "nginx"):
            proc, port = start(front, Path(tmp))
            try:
                print(f"run.py --front {front} (2-second client timeout per request):")
                measure(port, args.sockets, args.requests, args.seconds)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=150)


if __name__ == "__main__":
    main()
