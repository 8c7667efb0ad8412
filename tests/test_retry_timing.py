"""A job whose worker is killed and that succeeds on its retry: the record keeps the first attempt's start and the lost
attempt, and the CLI names the retry while it waits and in the end line.

A stranger's `ma analyze beginning.ogg --stems --model repet --wait`, its CPU worker killed (kill -9) ~12 s into the
job and restarted by its supervisor, printed `queued`, `running`, `queued`, `running` and `succeeded (84.4 s, after
25.6 s queued)`: the record's `started_at` was the retry's, so the dead attempt's ~15 s read as queue time, and the
retry showed only in `attempts`, which the CLI never prints. Real parts: a private valkey, real `celery worker`
processes (solo, and a prefork one whose pool child is killed), the real HTTP API and the CLI as a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from datetime import datetime

import pytest
from music_analyzer_client.retries import RetryWatch, lost_note
from music_analyzer_client.ui import BarTracker, end_note, queued_note, span_text
from rich.console import Console

from jobs import keys
from jobs.record import public_view
from tests.conftest import serving
from tests.prefork_job import a_child, job_in_a_pool_child
from tests.test_cli import CLI, cli_env
from tests.test_resilience import start_worker_process, stop_all, submit_features, worker_setup, write_uploads


def seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def logged_states(client, job_id: str) -> list[dict]:
    """The `state` events of the job's event log (what its stream sent), oldest first."""
    return [json.loads(fields[b"data"]) for _, fields in client.xrange(keys.event_log(job_id))
            if fields[b"kind"] == b"state"]


def test_a_retried_jobs_end_line_counts_its_queue_time_to_the_first_start(settings, private_redis, tmp_path):
    """The store's own calls play the worker: attempt 1 starts in a pool child that dies, a redelivery starts attempt
    2 and succeeds. The record keeps both starts; the end line's queue time is up to the first, and it names the
    lost attempt."""
    _, app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    jobs = app.extensions["music_analyzer"].jobs
    me = "cpu@retry-timing#1.abc"
    job_id = jobs.create(owner="tester", job_type="features", session_id=None, queue="cpu", task="t")["job_id"]
    jobs.r.hset(keys.job(job_id), "created_at", time.time() - 30)  # it waited 30 s for a worker
    with a_child() as child:
        assert jobs.start(job_id, worker=me, max_attempts=2, process=f"{child.pid}:tok.1") == "run"
    # the child is dead: the job's redelivery starts attempt 2, finding attempt 1 still `running`
    assert jobs.start(job_id, worker=me, max_attempts=2, process=f"{os.getpid()}:tok.2") == "run"
    # the stream's state events carry `attempts`: the second start is a retry, said once
    retries, states = RetryWatch(), logged_states(jobs.r, job_id)
    said = [line for line in (retries.news(job_id, e) for e in states) if line]
    assert said == ["worker lost, retrying (attempt 2)"], states
    assert jobs.succeed(job_id, {"ok": True})
    view = public_view(jobs.get(job_id))
    assert view["attempts"] == 2 and view["first_started_at"] < view["started_at"], view
    [lost] = view["lost_attempts"]
    assert (lost["attempt"], lost["reason"], lost["started_at"]) == (1, "worker_lost", view["first_started_at"])
    assert lost["started_at"] <= lost["last_heard_at"] <= lost["lost_at"] <= view["started_at"], view
    waited = seconds_between(view["created_at"], view["first_started_at"])
    assert 30 <= waited < 40, view
    assert queued_note(view) == f", after {span_text(waited)} queued"  # not up to the retry's start
    into = span_text(seconds_between(lost["started_at"], lost["last_heard_at"]))  # its last sign of life
    assert lost_note(view) == f"attempt 2: a worker was lost {into} into attempt 1"
    assert end_note(view) == f" (after {span_text(waited)} queued; attempt 2: a worker was lost {into} into attempt 1)"
    # on a terminal: the retry a line above the bars, the bar's end naming it
    screen = io.StringIO()
    with BarTracker(Console(file=screen, force_terminal=True, width=200, highlight=False)) as bars:
        bars.add(job_id, "t.wav features")
        for event in states:
            bars.update(job_id, event)
        bars.finish(job_id, view)
    text = screen.getvalue()
    assert text.count("t.wav features: worker lost, retrying (attempt 2)") == 1, text
    assert f"succeeded (after {span_text(waited)} queued; attempt 2: a worker was lost" in text, text


@pytest.mark.slow
def test_a_killed_workers_job_names_its_retry_in_the_cli_and_keeps_its_first_start(settings, private_redis,
                                                                                     tmp_path):
    """`ma jobs --watch` (a line per state change, as a piped `analyze --wait`) follows a batch job over the real HTTP
    API; its solo worker is killed with SIGKILL mid-job and started again under its name, as a supervisor does."""
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    env, app = worker_setup(settings, url, tmp_path)
    svc = app.extensions["music_analyzer"]
    # 4 s files: the job runs to its end after the kill (12 s ones had only cost time); killed 40 % into the first
    job_id = submit_features(app, files=write_uploads(app, files=4, seconds=4.0), batch=True)
    label = f"features {job_id[:8]}"
    workers: list[subprocess.Popen] = []
    with serving(app) as base:
        cli = subprocess.Popen([*CLI, "jobs", "--watch", "--session", "batch"], env=cli_env(base, tmp_path / "cli"),
                               cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert cli.stderr is not None
            first = cli.stderr.readline()  # the CLI follows the job before any worker runs it
            assert first.startswith(f"{label}: queued"), first
            workers.append(start_worker_process(env, settings["CPU_QUEUE"], "cpu@retry"))
            job = svc.jobs.wait_until(job_id, lambda j: j["state"] == "running" and j["progress"] > 0.1, timeout=90)
            assert job["state"] == "running", job
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait(timeout=30)
            workers.append(start_worker_process(env, settings["CPU_QUEUE"], "cpu@retry"))
            _, rest = cli.communicate(timeout=240)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.communicate()
            stop_all(workers)
    lines = [first.rstrip("\n"), *rest.splitlines()]
    assert cli.returncode == 0, lines
    view = public_view(svc.jobs.get(job_id))
    assert (view["state"], view["attempts"]) == ("succeeded", 2), view
    assert view["first_started_at"] < view["started_at"], view
    [lost] = view["lost_attempts"]
    assert (lost["attempt"], lost["reason"], lost["started_at"]) == (1, "worker_lost", view["first_started_at"])
    assert lost["started_at"] < lost["last_heard_at"] < lost["lost_at"], lost  # it reported progress, then died
    into = seconds_between(lost["started_at"], lost["last_heard_at"])
    assert f"{label}: worker lost, retrying (attempt 2)" in lines, lines
    end = next(line for line in lines if line.startswith(f"{label}: succeeded ("))
    assert end.endswith(f"; attempt 2: a worker was lost {span_text(into)} into attempt 1)"), end
    waited = seconds_between(view["created_at"], view["first_started_at"])
    assert (f", after {span_text(waited)} queued;" in end) == (waited >= 2), (waited, end)
    print(f"\n  {end}")


@pytest.mark.slow
def test_a_killed_pool_childs_retry_is_an_event_with_its_attempt(settings, private_redis, tmp_path):
    """A pool child killed mid-job: Celery hands the job to a new child, never queued again (running -> running).
    The start's state event says `attempts: 2`, which is how a follower tells the retry; the record keeps both
    starts."""
    with job_in_a_pool_child(settings, private_redis.port, tmp_path, name="retrychild@test", files=4, seconds=4.0,
                             progress=0.05) as run:
        os.kill(run.child, signal.SIGKILL)
        job = run.svc.jobs.wait_until(run.job_id, lambda j: j["attempts"] == 2 and j["state"] == "running",
                                      timeout=60)
        assert (job["attempts"], job["state"]) == (2, "running"), job
        states = logged_states(run.svc.redis, run.job_id)
        retries = RetryWatch()
        said = [line for line in (retries.news(run.job_id, e) for e in states) if line]
        assert said == ["worker lost, retrying (attempt 2)"], states
        job = run.svc.jobs.wait_for_state(run.job_id, ("succeeded", "failed"), timeout=240)
    view = public_view(job)
    assert (view["state"], view["attempts"]) == ("succeeded", 2), view
    assert view["first_started_at"] < view["started_at"], view
    assert [(e["attempt"], e["reason"]) for e in view["lost_attempts"]] == [(1, "worker_lost")], view
