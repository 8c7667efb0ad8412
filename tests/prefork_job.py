"""What the prefork tests share: a features job running in one pool child of a real two-child prefork worker, and a
stand-in for a pool child."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

import psutil

from tests.test_resilience import start_worker_process, stop_all, submit_features, worker_setup, write_uploads


@dataclass
class RunningJob:
    app: Any
    svc: Any
    job_id: str
    worker: Popen
    child: int  # the pid of the pool child running the job
    log: Path  # the worker's log (INFO)


@contextmanager
def job_in_a_pool_child(settings, redis_port: int, tmp_path: Path, *, name: str, files: int, seconds: float,
                        progress: float) -> Iterator[RunningJob]:
    """A batch features job of `files` sines of `seconds` each, running (past `progress`) in a child of a prefork
    worker of two named `name`; the worker is stopped on leaving."""
    env, app = worker_setup(settings, f"redis://127.0.0.1:{redis_port}/0", tmp_path)
    svc = app.extensions["music_analyzer"]
    job_id = submit_features(app, files=write_uploads(app, files=files, seconds=seconds), batch=True)
    log = tmp_path / "worker.log"
    worker = start_worker_process(env, settings["CPU_QUEUE"], name, pool="prefork", concurrency=2, loglevel="INFO",
                                  log=log)
    try:
        job = svc.jobs.wait_until(job_id, lambda j: j["state"] == "running" and j["progress"] > progress, timeout=120)
        assert job["state"] == "running", job
        child = int(job["process"].split(":", 1)[0])
        assert child in [c.pid for c in psutil.Process(worker.pid).children()]
        yield RunningJob(app, svc, job_id, worker, child, log)
    finally:
        stop_all([worker])


@contextmanager
def a_child() -> Iterator[Popen]:
    """A child of this process that lives until its stdin closes: a pool child of a worker's main process."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        yield child
    finally:
        child.kill()
        child.wait()
