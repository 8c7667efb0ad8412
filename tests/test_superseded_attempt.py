"""A pool child whose job was re-queued while it ran on stops at its next checkpoint: the job runs once at a time.

A reliability trial stopped a CPU worker's main process (SIGSTOP, as a paused VM or a stalled host does) while its pool
child ran a 59-minute REPET separation. Its heartbeat expired, a live worker's recovery re-queued the job, and once
resumed the worker ran the new attempt in its other child while the first went on: both children busy for minutes,
the record's progress flipping between the two attempts (0.02, 0.12, 0.03, 0.14 ...), both writing the same files.
The reporter now checks, before it writes, that the record still runs its attempt (jobs/reporting.py `superseded`);
the old attempt stops (JobSuperseded), takes back what it wrote and records nothing.

Real parts: a private valkey, a real prefork worker of two children (its main process stopped with SIGSTOP), and a
live solo worker that recovers the job and runs it again; the job's progress is read from its event channel.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from jobs import keys
from tests.prefork_job import job_in_a_pool_child
from tests.test_resilience import WORKER_BEAT, start_worker_process, stop_all


@pytest.mark.slow
def test_an_attempt_whose_job_was_requeued_stops_and_the_job_runs_once(settings, private_redis, tmp_path):
    redis_url = f"redis://127.0.0.1:{private_redis.port}/0"
    env = {**os.environ, "REDIS_URL": redis_url, "DATA_DIR": str(tmp_path / "data"),
           "AUTH_USERS": settings["AUTH_USERS"], "HEARTBEAT_SECONDS": WORKER_BEAT, "JOB_MAX_ATTEMPTS": "2",
           "GPU_QUEUE": settings["GPU_QUEUE"], "CPU_QUEUE": settings["CPU_QUEUE"]}
    live = None
    with job_in_a_pool_child(settings, private_redis.port, tmp_path, name="paused@test", files=8, seconds=60.0,
                             progress=0.02) as run:
        with run.svc.redis.pubsub(ignore_subscribe_messages=True) as sub:
            sub.subscribe(keys.events(run.job_id))  # first subscribe, then act: no event slips between
            os.kill(run.worker.pid, signal.SIGSTOP)  # its heartbeat stops; its pool child runs on
            try:
                live = start_worker_process(env, settings["CPU_QUEUE"], "live@test", loglevel="INFO",
                                            log=tmp_path / "live.log")
                events = until_done(sub, timeout=600)
            finally:
                os.kill(run.worker.pid, signal.SIGCONT)
                stop_all([live])
        requeued = next(i for i, e in enumerate(events) if e.get("state") == "queued")
        after = [e["progress"] for e in events[requeued:] if e.get("state") == "running" and "progress" in e]
        # one attempt's progress only: the first attempt's child (further on) had interleaved its own
        assert after == sorted(after), after
        job = run.svc.jobs.get(run.job_id)
        assert (job["state"], job["attempts"]) == ("succeeded", 2), job
        assert len(job["result"]["results"]) == 8, job["result"]


def until_done(sub, *, timeout: float) -> list[dict]:
    """The job's events from its channel until its end (an event in a final state), in order (no polling)."""
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        message = sub.get_message(timeout=left)
        if message is None:
            continue
        events.append(json.loads(message["data"]))
        if events[-1].get("state") in ("succeeded", "failed", "canceled"):
            break
    return events
