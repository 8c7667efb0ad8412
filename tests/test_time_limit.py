"""LONGEST_JOB_SECONDS is a limit, not a hope: a job past it is stopped and recorded failed, with real workers.

A job that reports progress stops at its next report; one stuck where it reports nothing (a call that never
returns, a read from a mount that hangs) is recorded failed by its worker's watchdog, which kills the process
running it: the pool child of a prefork worker, or a solo worker itself (its supervisor starts it again)."""

from __future__ import annotations

import os
import time

import psutil
import pytest

from jobs.overdue import EXIT_STUCK_JOB, stop_overdue
from tests.conftest import USER
from tests.test_resilience import (
    WORKER_BEAT,
    batch_job,
    start_worker_process,
    stop_all,
    submit_features,
    worker_setup,
    write_uploads,
)


def limited(env: dict, *, limit: int, grace: int = 1) -> dict:
    return {**env, "LONGEST_JOB_SECONDS": str(limit), "JOB_STOP_GRACE_SECONDS": str(grace)}


@pytest.mark.slow
def test_a_job_past_its_limit_stops_at_its_next_progress_report(settings, private_redis, tmp_path):
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    # ~6 s of work on an idle machine (0.5 s a file once warm), twice the limit: 6 files of 15 s had taken 2.6 s
    # once the worker imported the analysis modules before its first job, and the job ended before its limit
    env, svc, job_id = batch_job(settings, url, tmp_path, files=12, seconds=30.0)
    worker = start_worker_process(limited(env, limit=3, grace=600), settings["CPU_QUEUE"], "limit@test")
    try:
        job = svc.jobs.wait_for_state(job_id, ("succeeded", "failed", "canceled"), timeout=120)
        assert job["state"] == "failed" and job["error"]["code"] == "time_limit_exceeded", job
        assert "3 s" in job["error"]["message"] and job["finished_at"] - job["started_at"] < 60
        results = svc.sessions.of(USER).results_dir("batch")
        # the whole sets of the files it had finished stay, listed with the job; nothing of the file it was on
        kept = {r["filename"] for r in (job.get("result") or {}).get("results", [])}
        assert sorted(p.name for p in results.iterdir()) == sorted(job.get("files") or []), kept
        assert worker.poll() is None and svc.workers.is_alive(job["worker"])  # the worker serves on
    finally:
        stop_all([worker])


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["time_limit", "cancel"])
def test_a_stuck_pool_process_is_killed_and_its_job_ended_while_the_worker_serves_on(
        settings, private_redis, tmp_path, stop):
    """The job's process stops making progress (SIGSTOP: it runs no more code, as in a call that never returns)
    past its limit, or after a cancel: the worker's main process records the job failed (canceled) and kills it,
    Celery starts another pool process, and the job's redelivered message does not run it again."""
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    env, app = worker_setup(settings, url, tmp_path)
    svc = app.extensions["music_analyzer"]
    job_id = submit_features(app, files=write_uploads(app, files=3, seconds=5.0), batch=True)  # frozen, it never ends
    limit = 5 if stop == "time_limit" else 3600
    worker = start_worker_process(limited(env, limit=limit), settings["CPU_QUEUE"], "stuck@test", pool="prefork")
    try:
        # frozen at its first progress report (its pid is recorded by then), well before the limit; a canceled one
        # once its first file's results are in place (of 3: past 1/3)
        past = 0.0 if stop == "time_limit" else 0.34
        running = svc.jobs.wait_until(job_id, lambda j: j["state"] != "queued" and j["stage"] != "starting"
                                      and j["progress"] >= past, timeout=120)
        assert running["state"] == "running" and time.time() - running["started_at"] < limit, running
        results = svc.sessions.of(USER).results_dir("batch")
        assert stop == "time_limit" or any(results.glob("*.json"))
        child = svc.workers.job_pid(running["worker"], job_id)
        assert child is not None and child != worker.pid
        pool_process = psutil.Process(child)
        pool_process.suspend()  # SIGSTOP
        if stop == "cancel":
            assert svc.jobs.request_cancel(job_id, is_alive=svc.workers.is_alive) == "running"
        stopped_at = time.time()
        job = svc.jobs.wait_for_state(job_id, ("succeeded", "failed", "canceled"), timeout=60)
        print(f"\n  a pool process stuck {job['finished_at'] - running['started_at']:.1f} s into its job "
              f"({job['finished_at'] - stopped_at:.1f} s after it froze) was stopped: {stop} (limit {limit} s), "
              f"grace 1 s, beat {WORKER_BEAT} s")
        if stop == "cancel":
            assert job["state"] == "canceled", job
        else:
            assert job["state"] == "failed" and job["error"]["code"] == "time_limit_exceeded", job
            assert "no progress" in job["error"]["message"]
        assert job["attempts"] == 1
        pool_process.wait(timeout=30)  # killed (psutil.TimeoutExpired if not)
        # what it had written is taken back, but the whole sets of the files it had finished (a canceled one:
        # past its first file), which its result lists, as a batch canceled at a checkpoint does
        assert sorted(p.name for p in results.iterdir()) == sorted(job.get("files") or [])
        assert stop == "time_limit" or [r["filename"] for r in job["result"]["results"]][:1] == ["t0.wav"]
        assert worker.poll() is None and svc.workers.is_alive(job["worker"])  # the worker itself serves on
        assert svc.workers.current(job["worker"]) == [] and svc.workers.job_pid(job["worker"], job_id) is None
        # the next job runs in a new pool process
        later = submit_features(app, files=["t0.wav"], batch=False)
        assert svc.jobs.wait_for_state(later, ("succeeded", "failed"), timeout=120)["state"] in ("succeeded", "failed")
        assert svc.jobs.get(job_id)["attempts"] == 1  # never run again
    finally:
        stop_all([worker])


def test_a_stuck_job_in_its_workers_own_process_ends_the_worker(settings, private_redis, tmp_path):
    """A solo pool (the GPU worker) runs the job in the worker's own process: the watchdog records the job failed
    and exits the process (its supervisor starts it again); a job of another process is failed, never killed."""
    _, app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    svc = app.extensions["music_analyzer"]
    job_id, other_id = (submit_features(app, files=write_uploads(app, files=1, seconds=0.5), batch=False)
                        for _ in range(2))
    for job, pid in ((job_id, os.getpid()), (other_id, 1)):
        assert svc.jobs.start(job, worker="solo@test#1.abc", max_attempts=2) == "run"
        svc.workers.set_current("solo@test#1.abc", job, pid=pid)
    exits: list[int] = []
    late = time.time() + 3600
    assert stop_overdue(svc, "solo@test#1.abc", limit_seconds=3000, grace_seconds=300, now=late - 1000) == []
    assert sorted(stop_overdue(svc, "solo@test#1.abc", limit_seconds=3000, grace_seconds=300, now=late,
                               exit_process=exits.append)) == sorted([job_id, other_id])
    assert exits == [EXIT_STUCK_JOB]  # its own process; pid 1 is not its child and is left alone
    for job in (job_id, other_id):
        record = svc.jobs.get(job)
        assert record["state"] == "failed" and record["error"]["code"] == "time_limit_exceeded"
    assert svc.workers.current("solo@test#1.abc") == []
    # a cancel that its job never reaches: the same stop, a grace after it was asked (a second ask keeps the first time)
    canceled = submit_features(app, files=["t0.wav"], batch=False)
    assert svc.jobs.start(canceled, worker="solo@test#1.abc", max_attempts=2) == "run"
    svc.workers.set_current("solo@test#1.abc", canceled, pid=os.getpid())
    assert svc.jobs.request_cancel(canceled) == "running"
    asked = svc.jobs.cancel_requested_at(canceled)
    assert asked is not None and abs(asked - time.time()) < 60
    assert svc.jobs.request_cancel(canceled) == "running" and svc.jobs.cancel_requested_at(canceled) == asked
    assert stop_overdue(svc, "solo@test#1.abc", limit_seconds=3000, grace_seconds=300, now=asked + 299,
                        exit_process=exits.append) == []
    assert stop_overdue(svc, "solo@test#1.abc", limit_seconds=3000, grace_seconds=300, now=asked + 301,
                        exit_process=exits.append) == [canceled]
    assert exits == [EXIT_STUCK_JOB, EXIT_STUCK_JOB] and svc.jobs.get(canceled)["state"] == "canceled"


def test_the_files_an_attempt_wrote_are_taken_back_by_attempt_and_never_outside_the_data(private_redis, tmp_path):
    """jobs/job_writes.py with real Redis and files: what attempt 1 of a job noted is removed (a result and the
    temporary file it was writing), attempt 2's set is its own, and a path outside DATA_DIR is never noted."""
    import redis as redis_lib

    from jobs import keys
    from jobs.job_writes import JobWrites

    client = redis_lib.Redis.from_url(f"redis://127.0.0.1:{private_redis.port}/0")
    data = tmp_path / "data"
    results = data / "users" / "u" / "sessions" / "s" / "results"
    results.mkdir(parents=True)
    outside = tmp_path / "precious.txt"
    first = [results / "features_a.json", results / ".features_a.png.x1.part"]
    second = results / "features_a.txt"
    for path in (*first, second, outside):
        path.write_text("x")
    writes = JobWrites(client, data, ttl_seconds=60)
    for path in first:
        writes.note("job1", 1, path)
    writes.note("job1", 1, results / "never_written.json")
    writes.note("job1", 1, outside)
    writes.note("job1", 1, results / ".." / ".." / ".." / ".." / ".." / ".." / "precious.txt")
    writes.note("job1", 2, second)
    assert client.ttl(keys.job_writes("job1", 1)) > 0
    assert writes.take_back("job1", 1) == 2
    assert not any(p.exists() for p in first) and second.exists() and outside.exists()
    assert not client.exists(keys.job_writes("job1", 1)) and client.exists(keys.job_writes("job1", 2))
    writes.forget("job1", 2)  # the runner recorded the end itself: its files are its result
    assert writes.take_back("job1", 2) == 0 and second.exists()
    # killed right after a rename, before the final name was noted: the temporary file's inode names it; an
    # earlier run's file of a name the job never got to replace stays
    renamed, untouched = results / "pitch_a.png", results / "pitch_a.json"
    untouched.write_text("an earlier run's")
    for final in (renamed, untouched):
        tmp = results / f".{final.name}.x2.part"
        tmp.write_text("new")
        writes.note("job2", 1, tmp, becomes=final)
    os.replace(results / ".pitch_a.png.x2.part", renamed)
    assert writes.take_back("job2", 1) == 2  # the renamed file and the other's temporary file
    assert not renamed.exists() and untouched.read_text() == "an earlier run's"
    assert not list(results.glob("*.part"))
