"""A worker stopped (SIGTERM, as run.py, systemd and docker stop it) while a job it took waits to start on a full job
queue disk: the stop is not held up by the wait, and the job runs on another worker once space returns, not 4 h 10 min
later at the broker's visibility timeout. Real valkey on a real tmpfs filled to the last byte (root only), real Celery
worker processes, as in tests/test_disk_full_queue.py."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from jobs.record import TERMINAL_STATES
from jobs.submit import publish
from storage import DATA_DIR_ID_FILE
from tests.audio_synth import sine, write
from tests.conftest import USER, node_of, wait_for
from tests.small_disk import fill, valkey_on_a_small_disk
from tests.test_disk_full import start_app
from tests.test_disk_full_queue import valkey_refuses_writes
from tests.test_resilience import start_worker_process, stop_all


def held_at_the_data_dir_check(marker: Path) -> tuple[threading.Thread, list]:
    """The data directory's id file made a named pipe: a worker that takes a job reads it (jobs/data_dir_check.py)
    before its first write of the job, and is held there until the returned thread's pipe end is written to. The
    thread ends once the worker has opened the pipe (opening it for writing waits for a reader)."""
    marker.unlink()
    os.mkfifo(marker)
    opened: list = []
    holder = threading.Thread(target=lambda: opened.append(open(marker, "w")), daemon=True)  # noqa: SIM115
    holder.start()
    return holder, opened


@dataclass
class Waiting:
    """A job whose start a real worker (`first`, logging to `log`) waits out on the full queue disk (`filler`)."""
    svc: Any
    url: str
    token: str
    queue: str
    env: dict
    job_id: str
    first: subprocess.Popen
    log: Path
    filler: Path
    workers: list[subprocess.Popen]


@contextmanager
def a_start_waiting_on_a_full_queue_disk(settings, tmp_path, *, first_pause: float = 0.5) -> Iterator[Waiting]:
    """A worker that took a job and waits to start it on the filled queue disk: it has tried once (the logged
    "(try 1)") and pauses `first_pause` s (QUEUE_FULL_FIRST_RETRY_SECONDS; 0.5 s by default, doubling up to
    MAX_RETRY_DELAY_SECONDS' 10 s) before the next. The workers stopped after."""
    token = uuid.uuid4().hex[:8]
    queues = {"CPU_QUEUE": f"cpu-stop-{token}", "GPU_QUEUE": f"gpu-stop-{token}"}
    data = tmp_path / "data"
    workers: list[subprocess.Popen] = []
    with valkey_on_a_small_disk(tmp_path) as (disk, url, _):
        app = start_app(settings, data, REDIS_URL=url, **queues)
        svc = app.extensions["music_analyzer"]
        svc.sessions.of(USER).create("stopped")
        write(svc.sessions.of(USER).uploads_dir("stopped") / "tone.wav", sine(440, 1.0))
        identity = svc.sessions.identity()
        job_id = svc.jobs.create(owner=USER, job_type="pitch", session_id="stopped", queue=queues["CPU_QUEUE"],
                                 task="music_analyzer.pitch", data_dir=identity,
                                 params={"files": ["tone.wav"], "batch": False, "options": {}})["job_id"]
        env = {**os.environ, "REDIS_URL": url, "DATA_DIR": str(data), "AUTH_USERS": settings["AUTH_USERS"],
               "ADMIN_USERS": settings["ADMIN_USERS"], "HEARTBEAT_SECONDS": "0.5",
               "QUEUE_FULL_FIRST_RETRY_SECONDS": str(first_pause), **queues}
        marker = data / DATA_DIR_ID_FILE
        holder, pipe = held_at_the_data_dir_check(marker)
        try:
            workers.append(first := start_worker_process(env, queues["CPU_QUEUE"], f"first-{token}@localhost"))
            with app.app_context():  # as the API sends it
                publish("music_analyzer.pitch", job_id, queues["CPU_QUEUE"])
            svc.jobs.published(job_id)
            holder.join(timeout=120)
            assert pipe, "the worker did not take the job"
            # the worker holds the job's message; the queue's disk fills before it starts the job
            filler = fill(disk)
            wait_for(lambda: valkey_refuses_writes(url, token), timeout=20,
                     message="valkey to refuse writes on the full disk")
            pipe[0].write(identity + "\n")
            pipe[0].close()
            marker.unlink()
            marker.write_text(identity + "\n")
            log = max(data.parent.glob(f"worker-first-{token}@localhost-*.log"))
            tried = re.compile(rb"starting the job again in %.1f s \(try 1\)" % first_pause)
            wait_for(lambda: tried.search(log.read_bytes()) is not None, timeout=60,
                     message="the worker to wait for the full job queue to start the job (try 1)")
            yield Waiting(svc, url, token, queues["CPU_QUEUE"], env, job_id, first, log, filler, workers)
        finally:
            if holder.is_alive():  # the worker never opened the pipe: open it here, ending the thread
                os.close(os.open(marker, os.O_RDONLY | os.O_NONBLOCK))
            stop_all(workers)


def stopped(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the stopped worker went on waiting to start the job (its supervisor would kill it, the job's "
                    "message left to the visibility timeout)")


def runs_on_a_second_worker(w: Waiting) -> None:
    started = time.monotonic()
    w.workers.append(start_worker_process(w.env, w.queue, f"second-{w.token}@localhost"))
    job = w.svc.jobs.wait_for_state(w.job_id, TERMINAL_STATES, timeout=120)
    print(f"\n  job handed back by a worker stopped on a full queue disk: ran on another worker "
          f"{time.monotonic() - started:.1f} s after that worker was started")
    assert job["state"] == "succeeded" and node_of(job["worker"]) == f"second-{w.token}@localhost", job
    assert job["attempts"] == 1, job


@pytest.mark.slow
def test_a_worker_stopped_while_a_job_waits_to_start_on_a_full_queue_disk_hands_the_job_back(settings, tmp_path):
    with a_start_waiting_on_a_full_queue_disk(settings, tmp_path) as w:
        stopped(w.first)
        assert b"puts the job's message back on the queue" in w.log.read_bytes(), w.log.read_text()[-3000:]
        job = w.svc.jobs.get(w.job_id)
        assert job["state"] == "queued" and job["attempts"] == 0, job

        w.filler.unlink()
        wait_for(lambda: not valkey_refuses_writes(w.url, w.token), timeout=30, message="valkey to take writes")
        runs_on_a_second_worker(w)


@pytest.mark.slow
def test_a_worker_stopped_once_the_queue_takes_writes_again_puts_the_message_back_at_once(settings, tmp_path):
    """The disk has space again, but the worker still waits out its pause before its next try (8 s, as after the 5th
    try by default) when it is stopped: it puts the message back on its queue itself (not left taken, for a recovery
    pass), the job queued. (The 6th try's 10 s pause came 8 s later, 15.5 s after the 1st: waited out for no more
    room. Valkey takes writes again within ~1 s of the space freed, retrying its append-only file each second.) The
    8 s pause comes at the 1st try here (QUEUE_FULL_FIRST_RETRY_SECONDS): the 4 tries before the 5th had taken 7.5 s
    of the test."""
    with a_start_waiting_on_a_full_queue_disk(settings, tmp_path, first_pause=8.0) as w:
        w.filler.unlink()  # within the 8 s pause after the 1st try
        wait_for(lambda: not valkey_refuses_writes(w.url, w.token), timeout=5, message="valkey to take writes")
        stopped(w.first)
        log = w.log.read_text()
        assert "its message goes back to the queue, the job still queued" in log, log[-3000:]
        assert "puts the job's message back on the queue" not in log, log[-3000:]
        job = w.svc.jobs.get(w.job_id)
        assert job["state"] == "queued" and job["attempts"] == 0 and "worker" not in job, job
        # on its queue now, before any other worker runs: not among the taken (kombu's `unacked`) ones
        with redis.Redis.from_url(w.url) as client:
            waiting = sum(client.llen(k) for k in client.scan_iter(match=f"{w.queue}*") if client.type(k) == b"list")
            assert waiting == 1 and client.hlen("unacked") == 0, (waiting, client.hgetall("unacked"))
        runs_on_a_second_worker(w)
