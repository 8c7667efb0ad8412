"""A job whose worker stopped under it, with real worker processes: how it reads while it waits to run again, and
which stops count against JOB_MAX_ATTEMPTS (a crash does; an operator's graceful stop does not)."""

from __future__ import annotations

import json
import signal
import time

import pytest

from jobs import keys
from jobs.record import TERMINAL_STATES, public_view
from jobs.store import HANDED_BACK_STAGE, REQUEUED_STAGE
from tests.conftest import node_of
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
    # a worker of the other queue recovers the job (every live worker does) but does not run it: it stays queued.
    # Started with the CPU worker, not after the kill: its start-up (~4 s) had come on top of the test's
    workers = [start_worker_process(env, settings["CPU_QUEUE"], "cpu@requeue"),
               start_worker_process(env, settings["GPU_QUEUE"], "gpu@requeue")]
    try:
        running = svc.jobs.wait_until(job_id, lambda j: j["state"] == "running" and j["progress"] > 0.1, timeout=90)
        assert running["progress"] > 0.1 and running["started_at"], running
        workers[0].kill()
        workers[0].wait(timeout=30)
        job = svc.jobs.wait_for_state(job_id, ("queued",), timeout=60)
        view = public_view(job)
        assert (view["state"], view["progress"], view["stage"], view["started_at"]) == (
            "queued", 0.0, REQUEUED_STAGE, None), view
        assert view["attempts"] == 1  # it has run once: a client tells a retry from a new job by it
        assert "partial_result" not in view
        assert last_queued_event(svc, job_id) == {"state": "queued", "progress": 0.0, "stage": REQUEUED_STAGE,
                                                  "attempts": 1}
    finally:
        stop_all(workers)


@pytest.mark.slow
def test_graceful_stops_do_not_use_up_the_attempts_crashes_do(settings, private_redis, tmp_path):
    """A stranger stopped the worker twice during one long job (SIGTERM, then killed when the supervisor's wait ran
    out, as run.py and systemd do): the job failed `worker_lost` with JOB_MAX_ATTEMPTS 2 though no worker had died.
    Two graceful stops, then two crashes (SIGKILL alone): the job runs four times and fails on the second crash."""
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    env, svc, job_id = batch_job(settings, url, tmp_path, files=6, seconds=15.0)  # JOB_MAX_ATTEMPTS 2
    workers = []
    stops = [("stop1@test", "graceful"), ("stop2@test", "graceful"), ("crash1@test", "crash"), ("crash2@test", "crash")]
    try:
        for attempt, (name, how) in enumerate(stops, start=1):
            workers.append(worker := start_worker_process(env, settings["CPU_QUEUE"], name))
            job = svc.jobs.wait_until(job_id, lambda j, n=name: j["state"] in TERMINAL_STATES or (
                j["state"] == "running" and node_of(j.get("worker")) == n and j["progress"] > 0.02), timeout=120)
            assert job["state"] == "running" and job["attempts"] == attempt, (attempt, job)
            if attempt > 1:  # it came back as queued afresh, saying whether its last attempt counted
                stage = HANDED_BACK_STAGE if stops[attempt - 2][1] == "graceful" else REQUEUED_STAGE
                assert last_queued_event(svc, job_id) == {"state": "queued", "progress": 0.0, "stage": stage,
                                                          "attempts": attempt - 1}
            if how == "graceful":
                worker.send_signal(signal.SIGTERM)  # warm shutdown: it goes on with the job, noted handed back
                job = svc.jobs.wait_until(job_id, lambda j, a=attempt: j.get("handed_back_attempt") == str(a),
                                          timeout=30)
                assert job.get("handed_back") == attempt and job["state"] == "running", job
            worker.kill()  # the supervisor's wait ran out (graceful), or the process died (crash)
            worker.wait(timeout=30)
        workers.append(start_worker_process(env, settings["CPU_QUEUE"], "last@test"))  # recovers it: exhausted
        job = svc.jobs.wait_for_state(job_id, TERMINAL_STATES, timeout=90)
        assert job["state"] == "failed" and job["error"]["code"] == "worker_lost", job
        assert job["attempts"] == 4 and "stopped 2 times" in job["error"]["message"], job
        # each retried attempt noted with why (the last one ended the job: its failure says why)
        lost = public_view(job)["lost_attempts"]
        assert [(e["attempt"], e["reason"]) for e in lost] == [
            (1, "worker_shut_down"), (2, "worker_shut_down"), (3, "worker_lost")], lost
        assert all(e["started_at"] < e["lost_at"] for e in lost), lost
        assert public_view(job)["first_started_at"] == lost[0]["started_at"] < public_view(job)["started_at"], job
    finally:
        stop_all(workers)


def wait_worker_beating(client, node: str, timeout: float) -> bool:
    """Block until a worker process of node name `node` writes its first heartbeat (a keyspace notification of the
    write, no polling); True once one has."""
    client.config_set("notify-keyspace-events", "Ehx")
    prefix = keys.worker(f"{node}#")
    with client.pubsub() as sub:
        sub.subscribe("__keyevent@0__:hset")
        deadline = time.monotonic() + timeout
        while not any(k.decode().startswith(prefix) for k in client.scan_iter(match=prefix + "*")):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            sub.get_message(timeout=left)
    return True


def stop_gracefully_then_kill(svc, worker, job_id: str, attempt: int) -> None:
    """What run.py and systemd do to a busy worker: SIGTERM (it notes its job handed back and goes on with it), then
    SIGKILL once their wait has run out."""
    worker.send_signal(signal.SIGTERM)
    job = svc.jobs.wait_until(job_id, lambda j: j.get("handed_back_attempt") == str(attempt), timeout=30)
    assert job.get("handed_back_attempt") == str(attempt) and job["state"] == "running", job
    worker.kill()
    worker.wait(timeout=30)


@pytest.mark.slow
def test_a_job_handed_back_again_soon_after_its_last_recovery_is_requeued_at_once(settings, private_redis, tmp_path):
    """A stranger restarted a worker (gracefully, its job outlasting the wait) and then the worker that had taken the
    job over: the job waited ~30 s to be picked up again, where its worker's heartbeat expires in 5 beats. The
    recovery of its first handing back had locked the job's recovery for 30 s (RECOVERY_LOCK_SECONDS), and the lock
    outlived that recovery: the second one waited it out."""
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    env, svc, job_id = batch_job(settings, url, tmp_path, files=6, seconds=15.0)
    # a worker of the other queue: it recovers the job (every live worker does) but never runs it
    workers = [start_worker_process(env, settings["GPU_QUEUE"], "recoverer@test")]
    try:
        workers.append(first := start_worker_process(env, settings["CPU_QUEUE"], "first@test"))
        job = svc.jobs.wait_until(job_id, lambda j: j["state"] == "running" and j["progress"] > 0.02, timeout=120)
        assert node_of(job.get("worker")) == "first@test", job
        workers.append(second := start_worker_process(env, settings["CPU_QUEUE"], "second@test"))
        assert wait_worker_beating(svc.redis, "second@test", timeout=120)
        stop_gracefully_then_kill(svc, first, job_id, 1)
        job = svc.jobs.wait_until(job_id, lambda j: j["state"] == "running" and j["attempts"] == 2
                                  and j["progress"] > 0.02, timeout=60)
        assert node_of(job.get("worker")) == "second@test" and job["attempts"] == 2, job
        stop_gracefully_then_kill(svc, second, job_id, 2)
        killed = time.monotonic()
        job = svc.jobs.wait_for_state(job_id, ("queued",), timeout=25)
        seconds = time.monotonic() - killed
        print(f"\n  second graceful restart in a row: job requeued {seconds:.1f} s after its worker was killed")
        assert job["state"] == "queued" and job["stage"] == HANDED_BACK_STAGE, (seconds, job)
        # its worker's heartbeat (5 beats, at least 3 s) and a recovery pass (3 beats), with room to spare
        assert seconds < 10, seconds
        assert job["attempts"] == 2 and job["handed_back"] == 2
    finally:
        stop_all(workers)
