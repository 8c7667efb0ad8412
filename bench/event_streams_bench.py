"""Idle job event streams vs the API: who serves GET /jobs/<id>/events, and what N listeners cost.

    python bench/event_streams_bench.py [--streams 200] [--requests 100]

Starts `run.py --events api` (the API's gthread workers serve the streams) and `run.py --events gevent`
(the gevent events server behind nginx) on free ports with a throwaway data directory and an embedded
valkey. For each: N listeners on a job that never runs (its record is made without a queue message),
how many streams opened within OPEN_SECONDS, /health and an authenticated GET /jobs/<id> timed while
they stay open, memory per stream, and how long the job's end took to reach every listener.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.slow_clients_bench import start_run  # noqa: E402
from jobs.store import JobStore  # noqa: E402
from redis_server import redis_client  # noqa: E402
from service.control import Supervisor  # noqa: E402
from service.layout import RunLayout  # noqa: E402
from tests.slow_clients import summary, timed_get  # noqa: E402
from tests.sse import open_raw_streams, tree_rss, wait_all_received  # noqa: E402

AUTH = ("bench", "event streams bench password")
OPEN_SECONDS = 10.0  # a stream not answered by then waits for a thread that will not come
REQUEST_TIMEOUT_SECONDS = 2.0


def start(events: str, tmp: Path) -> tuple[subprocess.Popen, int, str, Path]:
    return start_run(["--events", events], tmp / events, auth=AUTH)


def measure(port: int, redis_url: str, server_pid: int, streams: int, count: int) -> None:
    store = JobStore(redis_client(redis_url))
    job_id = store.create(owner=AUTH[0], job_type="probe", session_id=None, queue="no-worker", task="never-sent")[
        "job_id"]
    for _ in range(4):  # each server process checks the password hash once
        timed_get("127.0.0.1", port, f"/jobs/{job_id}", AUTH, 5)
    rss_before = tree_rss(server_pid)
    socks = open_raw_streams("127.0.0.1", port, job_id, AUTH, streams)
    try:
        opened = wait_all_received(socks, b"event: state", timeout=OPEN_SECONDS)
        rss = (tree_rss(server_pid) - rss_before) / max(1, len(opened)) / 1024
        health = [timed_get("127.0.0.1", port, "/health", None, REQUEST_TIMEOUT_SECONDS) for _ in range(count)]
        job = [timed_get("127.0.0.1", port, f"/jobs/{job_id}", AUTH, REQUEST_TIMEOUT_SECONDS) for _ in range(count)]
        canceled_at = time.time()
        store.mark_canceled(job_id)
        finals = wait_all_received(socks, b"event: done", timeout=OPEN_SECONDS)
    finally:
        for s in socks:
            s.close()
    reach = f"{(max(finals.values()) - canceled_at) * 1000:.0f} ms" if finals else "-"
    print(f"  {len(opened)}/{streams} streams open within {OPEN_SECONDS:.0f} s; {rss:.1f} KiB per open stream\n"
          f"  /health              {summary(health)}\n  GET /jobs/<id> auth  {summary(job)}\n"
          f"  the job's end reached {len(finals)} streams, the last after {reach}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for events in ("api", "gevent"):
            proc, port, redis_url, data = start(events, Path(tmp))
            try:
                program = "events" if events == "gevent" else "api"
                pid = Supervisor(RunLayout.for_data_dir(data)).pid(program)
                print(f"run.py --events {events} ({program} serves the streams; {REQUEST_TIMEOUT_SECONDS:.0f}-second "
                      "client timeout per request):")
                measure(port, redis_url, pid, args.streams, args.requests)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=150)


if __name__ == "__main__":
    main()
