"""A job whose worker stopped under it, with real worker processes: how it reads while it waits to run again, and
which stops count against JOB_MAX_ATTEMPTS (a crash does; an operator's graceful stop does not)."""

from __future__ import annotations

import json

import pytest

from jobs import keys
from jobs.record import public_view
from jobs.store import REQUEUED_STAGE
from tests.test_resilience import batch_job, start_worker_process, stop_all


def last_queued_event(svc, job_id: str) -> dict | None:
    """The job's latest `queued` state event in its event log (what its stream sent), if any."""
    events = [json.loads(fields[b"data"]) for _, fields in svc.redis.xrange(keys.event_log(job_id))
              if fields[b"kind"] == b"state"]
    queued = [e for e in events if e["state"] == "queued"]
    return queued[-1] if queued else None


@pytest.mark.slow
def test_a_requeued_job_reads_as_queued_afresh_with_its_attempts(settings, private_redis, tmp_path):
    """A stranger's job read `state: queued` at 15.6 %, its dead attempt's share, until it ran again."""
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    env, svc, job_id = batch_job(settings, url, tmp_path, files=4, seconds=12.0)
    workers = [start_worker_process(env, settings["CPU_QUEUE"], "cpu@requeue")]
    try:
        running = svc.jobs.wait_until(job_id, lambda j: j["state"] == "running" and j["progress"] > 0.1, timeout=90)
        assert running["progress"] > 0.1 and running["started_at"], running
        workers[0].kill()
        workers[0].wait(timeout=30)
        # a worker of the other queue recovers the job (every live worker does) but does not run it: it stays queued
        workers.append(start_worker_process(env, settings["GPU_QUEUE"], "gpu@requeue"))
        job = svc.jobs.wait_for_state(job_id, ("queued",), timeout=60)
        view = public_view(job)
        assert (view["state"], view["progress"], view["stage"], view["started_at"]) == (
            "queued", 0.0, REQUEUED_STAGE, None), view
        assert view["attempts"] == 1  # it has run once: a client tells a retry from a new job by it
        assert "partial_result" not in view
        assert last_queued_event(svc, job_id) == {"state": "queued", "progress": 0.0, "stage": REQUEUED_STAGE}
    finally:
        stop_all(workers)
