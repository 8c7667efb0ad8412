"""A Redis that keeps nothing on disk, restarted under a running job: the job is listed again with its end.

A stranger's day two: their own Redis (save "", appendonly no) restarted while jobs were queued, running and finished.
It came back empty. The running jobs went on and wrote their result files, but their ends found no record to write:
GET /jobs/<id> answered 404 for good, the session listed no job beside their files, and the CLI following them said
`unknown`. Real processes: a private valkey stopped and started empty on its port, a Celery worker process, the API
over HTTP.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis as redis_lib

from jobs import keys
from jobs.record import TERMINAL_STATES
from redis_server import start_embedded
from tests.conftest import Client, serving
from tests.test_resilience import batch_job, make_app, start_worker_process, stop_all


def wait_for_end(svc, job_id: str, timeout: float) -> dict | None:
    """The job's record once it has ended, woken by its events; it may have no record at first (Redis emptied)."""
    with svc.jobs.r.pubsub(ignore_subscribe_messages=True) as sub:
        sub.subscribe(keys.events(job_id))  # first subscribe, then read: no change can slip between
        deadline = time.monotonic() + timeout
        job = svc.jobs.get(job_id)
        while (job is None or job["state"] not in TERMINAL_STATES) and (left := deadline - time.monotonic()) > 0:
            if sub.get_message(timeout=left) is not None:
                job = svc.jobs.get(job_id)
        return job


@pytest.mark.slow
def test_a_job_running_when_redis_came_back_empty_is_listed_again_with_its_end(settings, private_redis, tmp_path):
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    env, svc, job_id = batch_job(settings, url, tmp_path, files=3, seconds=15.0)
    port, worker = private_redis.port, start_worker_process(env, settings["CPU_QUEUE"], "emptied@test")
    server2 = None
    try:
        job = svc.jobs.wait_until(job_id, lambda j: j["state"] == "running" and j["progress"] > 0.05, timeout=90)
        assert job is not None and job["state"] == "running", job
        private_redis.stop()
        server2 = start_embedded(tmp_path / "valkey-empty", port=port)  # back empty, as a Redis that kept nothing
        assert svc.jobs.get(job_id) is None

        job = wait_for_end(svc, job_id, timeout=120)
        assert job is not None and job["state"] == "succeeded", job
        assert len(job["result"]["results"]) == 3 and job["attempts"] == 1, job
        app = make_app(settings, url, tmp_path)  # the API, on the emptied Redis
        with serving(app) as base:
            client = Client(base)
            seen = client.get(f"/jobs/{job_id}").json()
            assert (seen["state"], seen["session_id"], seen["type"]) == ("succeeded", "batch", "features"), seen
            assert job_id in [j["job_id"] for j in client.get("/sessions/batch").json()["jobs"]]
            assert job_id in [j["job_id"] for j in client.get("/jobs").json()["jobs"]]
        log = next(tmp_path.glob("worker-emptied@test-*.log")).read_text()
        assert "its record was gone when it ended" in log, log
    finally:
        stop_all([worker])
        if server2 is not None:
            redis_lib.Redis.from_url(url).flushdb()
            server2.stop()


def wait_for_writes(client: redis_lib.Redis, wanted: list[tuple[str, str]], timeout: float,
                    made: Callable[[tuple[str, str]], bool] = lambda write: False) -> bool:
    """Block until Redis has made each (command, key prefix) write of `wanted`, in that order (keyspace
    notifications of the writes, no polling); True once all were seen. `made(write)`, asked once subscribed, says
    whether a leading write of `wanted` was made before the subscription (its notification then never comes)."""
    client.config_set("notify-keyspace-events", "E$h")
    left_to_see = list(wanted)
    with client.pubsub() as sub:
        sub.subscribe(*{f"__keyevent@0__:{command}" for command, _ in wanted})
        while left_to_see and made(left_to_see[0]):
            left_to_see.pop(0)
        deadline = time.monotonic() + timeout
        while left_to_see and (left := deadline - time.monotonic()) > 0:
            message = sub.get_message(timeout=left)
            if not message or message["type"] != "message":
                continue
            command, prefix = left_to_see[0]
            if message["channel"].decode().endswith(f":{command}") and message["data"].decode().startswith(prefix):
                left_to_see.pop(0)
    return not left_to_see


def stacks_of(worker, tmp_path: Path) -> str:
    """The worker's log with every thread's stack, for a worker whose beats stopped (two CI runs of this stop saw
    its heartbeat thread write nothing for 60 s after the restart, with no error in its log; never reproduced alone):
    Celery's SIGUSR1 handler logs the stacks, then the worker is stopped so the log is whole."""
    worker.send_signal(signal.SIGUSR1)
    stop_all([worker])
    worker.wait(timeout=60)
    log = next(tmp_path.glob("worker-watch@test-*.log")).read_text()
    return "no beats on the emptied Redis; the worker's log:\n" + log[-20000:]


@pytest.mark.slow
def test_a_job_queued_when_redis_came_back_empty_reads_lost_with_why(settings, private_redis, tmp_path):
    """A stranger's queued job answered `no job '<id>'` after their Redis (keeping nothing) restarted, and no log said
    the queue had been lost. Nothing on disk holds a queued job (a session keeps its uploads and results, not the jobs
    asked of it), so it cannot be queued again: its 404 now says what happened, and each worker's log says it once."""
    from jobs.data_epoch import made_at

    url = f"redis://127.0.0.1:{private_redis.port}/0"
    env, svc, job_id = batch_job(settings, url, tmp_path, files=1, seconds=1.0)
    assert made_at(job_id) is not None and abs(made_at(job_id) - svc.jobs.get(job_id)["created_at"]) < 1
    port = private_redis.port
    # a worker of the other queue: the job stays queued, the worker watches Redis
    worker = start_worker_process(env, settings["GPU_QUEUE"], "watch@test")
    server2 = None
    try:
        # it beats twice: its first look at when Redis's data began (after the first beat's write) is done. A restart
        # before that look leaves the worker nothing to compare with (a run of the loop saw it: no "lost" in its log)
        prefix = keys.worker("watch@test#")
        assert wait_for_writes(svc.redis, [("hset", prefix), ("hset", prefix)], timeout=120)
        private_redis.stop()
        server2 = start_embedded(tmp_path / "valkey-empty", port=port)  # back empty, as a Redis that kept nothing
        # its first beat on the empty Redis notes when the data began, the one after it has looked (and logged). The
        # worker beats every 0.5 s: on a loaded machine its first beat can come before this test has subscribed (one
        # CI run then waited 60 s for a notification already sent), so a start already noted counts as seen
        beats = wait_for_writes(svc.redis, [("set", keys.DATA_SINCE), ("hset", keys.worker("watch@test#")),
                                            ("hset", keys.worker("watch@test#"))], timeout=60,
                                made=lambda write: write[1] == keys.DATA_SINCE and bool(svc.redis.exists(write[1])))
        assert beats, stacks_of(worker, tmp_path)
        app = make_app(settings, url, tmp_path)
        with serving(app) as base:
            client = Client(base)
            gone = client.get(f"/jobs/{job_id}")
            assert gone.status_code == 404 and gone.json()["error"]["code"] == "job_not_found", gone.text
            message = gone.json()["error"]["message"]
            assert "came back empty" in message and "never ran" in message and "submit it again" in message, message
            unknown = client.get(f"/jobs/{'0' * 32}").json()["error"]["message"]  # not a lost one: no such story
            assert unknown == f"no job '{'0' * 32}'", unknown
            assert "came back empty" in client.get(f"/jobs/{job_id}/events").json()["error"]["message"]
        log = next(tmp_path.glob("worker-watch@test-*.log")).read_text()
        assert log.count("Redis lost its data") == 1 and "every job queued before" in log, log
    finally:
        stop_all([worker])
        if server2 is not None:
            redis_lib.Redis.from_url(url).flushdb()
            server2.stop()
