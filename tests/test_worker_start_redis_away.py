"""A worker started while Redis does not answer beats once it does.

Its start wrote to Redis before the heartbeat thread began (the first beat, then two more writes): a Redis away at
that moment raised out of Celery's worker_init, the heartbeat never started, and the worker took jobs once Redis was
back with no beat for good, so the other workers took its running jobs for a dead worker's. A CI run saw it: a Redis
restarted just after a worker's first beat left that worker with its main thread only. Real processes: a Celery
worker pointed at a port where nothing listens yet, then a private valkey started there.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis as redis_lib

from jobs import keys
from redis_server import free_port, start_embedded
from tests.test_redis_emptied import wait_for_writes
from tests.test_resilience import ROOT, stop_all, worker_setup

CONSUMER_AWAY = "consumer: Cannot connect to"  # Celery's consumer, which starts after worker_init, finds no Redis


def worker_told(env: dict, log: Path, line: str, *, pool: str = "solo", name: str = "late@test",
                loglevel: str = "WARNING", queue: str | None = None) -> tuple[subprocess.Popen, threading.Event]:
    """A worker of `queue` (the CPU queue); its stderr copied to `log` by a thread that sets the event at `line`."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "make_celery", "worker", "--pool", pool, "--concurrency", "1",
         "-Q", queue or env["CPU_QUEUE"], "-n", name, "--loglevel", loglevel, "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = threading.Event()

    def copy() -> None:
        with open(log, "wb") as out:
            for raw in worker.stderr:  # read to the end: the worker never blocks on a full pipe
                out.write(raw)
                out.flush()
                if line.encode() in raw:
                    seen.set()

    threading.Thread(target=copy, daemon=True).start()
    return worker, seen


@pytest.mark.slow
def test_a_worker_started_while_redis_is_away_beats_once_it_answers(settings, private_redis, tmp_path):
    env, _app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)  # the session's Redis
    port = free_port()  # the worker's: nothing listens there yet
    url = f"redis://127.0.0.1:{port}/0"
    log = tmp_path / "worker-late.log"
    worker, consumer_away = worker_told({**env, "REDIS_URL": url}, log, CONSUMER_AWAY)
    server = None
    try:
        assert consumer_away.wait(timeout=120), log.read_text()  # its start is over, Redis away throughout
        server = start_embedded(tmp_path / "valkey-late", port=port)
        prefix = keys.worker("late@test#")
        client = redis_lib.Redis.from_url(url)
        assert wait_for_writes(client, [("hset", prefix), ("hset", prefix)], timeout=30), log.read_text()
        stop_all([worker])
        assert "did not answer at the worker's start" in log.read_text()
    finally:
        stop_all([worker])
        if server is not None:
            server.stop()
