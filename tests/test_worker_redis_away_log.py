"""A worker whose REDIS_URL does not answer says so once per outage, not a traceback at every try.

A stranger's extra worker on another machine, its REDIS_URL naming a Redis it could not reach, wrote ~40 tracebacks
(70 lines a second) in its first 40 s: the heartbeat at every beat, each of the four webhook senders every 5 s. Celery's
own line, "consumer: Cannot connect to redis://...", the one that says what is wrong, was lost among them. Real
processes: a Celery worker pointed at a port where nothing listens, then a private valkey started there.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from redis_server import free_port, start_embedded
from tests.test_resilience import ROOT, stop_all, worker_setup
from tests.test_worker_start_redis_away import CONSUMER_AWAY


class Followed:
    """A worker's stderr, copied to `log` line by line by a thread; `wait_count` blocks until a text has been seen
    that many times (a Condition notified at each line: no polling)."""

    def __init__(self, worker: subprocess.Popen, log: Path):
        self.lines: list[str] = []
        self.done = False
        self._changed = threading.Condition()
        threading.Thread(target=self._copy, args=(worker, log), daemon=True).start()

    def _copy(self, worker: subprocess.Popen, log: Path) -> None:
        with open(log, "w") as out:
            for raw in worker.stderr:  # to the end: the worker never blocks on a full pipe
                line = raw.decode(errors="replace")
                out.write(line)
                out.flush()
                with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()
        with self._changed:
            self.done = True
            self._changed.notify_all()

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def wait_count(self, text: str, n: int, *, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.done or self.count(text) >= n, timeout=timeout) and \
                self.count(text) >= n


def followed_worker(env: dict, name: str, log: Path, *, cwd: Path = ROOT, **extra: str) -> tuple[subprocess.Popen,
                                                                                                  Followed]:
    """A solo Celery worker of `env`'s CPU queue named `name` (no numba warm-up, no mingle or gossip), its stderr
    followed into `log`; `extra`: environment variables over `env`'s."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "make_celery", "worker", "--pool", "solo", "--concurrency", "1",
         "-Q", env["CPU_QUEUE"], "-n", name, "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
        cwd=cwd, env={**env, "NUMBA_WARMUP": "0", **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return worker, Followed(worker, log)


@pytest.mark.slow
def test_a_worker_whose_redis_does_not_answer_logs_the_outage_once_and_its_end(settings, private_redis, tmp_path):
    env, _app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)  # 0.5 s beats
    port = free_port()  # nothing listens there yet
    worker, out = followed_worker(env, "away@test", tmp_path / "worker.log", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    server = None
    try:
        # Celery retries after 2 s, then 4 s: by its third failure the heartbeat has failed a dozen times and each
        # webhook sender twice (every 5 s)
        assert out.wait_count(CONSUMER_AWAY, 3, timeout=120), "".join(out.lines)
        said = "".join(out.lines)
        assert "Traceback" not in said, said
        assert out.count("heartbeat failed: Redis does not answer") == 1, said
        assert out.count("webhook sender: Redis does not answer") == 1, said
        assert out.count("heartbeat failed") == 1 and out.count("webhook sender") == 1, said
        assert out.count("Redis did not answer at the worker's start; its heartbeat retries (Redis does not") == 1, said
        server = start_embedded(tmp_path / "valkey-late", port=port)
        assert out.wait_count("heartbeat failed: Redis answers again", 1, timeout=60), "".join(out.lines)
        assert out.wait_count("webhook sender: Redis answers again", 1, timeout=60), "".join(out.lines)
    finally:
        stop_all([worker])
        if server is not None:
            server.stop()
    said = "".join(out.lines)
    assert "Traceback" not in said, said


@pytest.mark.slow
def test_a_worker_stopped_while_its_redis_does_not_answer_says_so_in_one_line(settings, private_redis, tmp_path):
    env, _app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    worker, out = followed_worker(env, "away-stop@test", tmp_path / "worker.log",
                                  REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert out.wait_count(CONSUMER_AWAY, 1, timeout=120), "".join(out.lines)
    finally:
        stop_all([worker])  # TERM: the stop notes its running jobs as handed back, in Redis, which is away
    assert out.wait_count("could not note the running jobs as handed back (Redis does not answer", 1, timeout=30)
    said = "".join(out.lines)
    assert "Traceback" not in said, said
