"""Hidden copies of earlier results that a kill left behind (jobs/left_copies.py): a worker that starts removes
them, but never one a running job may still put back, nor one younger than the longest a job may run.

The copies are what worker/files.py makes when a re-run replaces a result; a kill between the runner forgetting a
job's noted writes and dropping its copies had left them in the session's results for good (hidden, but counted
against the user's storage)."""

from __future__ import annotations

import os
import time

import pytest

from jobs.left_copies import remove_left_copies
from tests.conftest import USER, wait_for
from tests.test_resilience import start_worker_process, stop_all, worker_setup


def copy_of(results, name: str, *, made: float | None, token: str = "0badf00d"):
    """A hidden copy of results/`name`, as worker/files.py names one (`made` None: the name without its time)."""
    stamp = f"{int(made)}-{token}" if made is not None else token
    path = results / f".{name}.{stamp}.earlier"
    path.write_text('{"earlier": true}')
    return path


def test_only_copies_no_running_job_owns_and_older_than_a_job_runs_are_removed(settings, private_redis, tmp_path):
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    _, app = worker_setup(settings, url, tmp_path)
    svc = app.extensions["music_analyzer"]
    results = svc.sessions.of(USER).results_dir("batch")
    results.mkdir(parents=True, exist_ok=True)
    day_ago = time.time() - 86400
    left = copy_of(results, "features_a.json", made=day_ago)
    named_before = copy_of(results, "features_b.json", made=None)  # a copy named before its time was in the name
    fresh = copy_of(results, "features_c.json", made=time.time())  # a job may be running that put it there
    # a running job whose noted writes hold its copy: recovery puts that back if the job's worker is found dead
    job_id = svc.jobs.create(owner=USER, job_type="features", session_id="batch", queue=settings["CPU_QUEUE"],
                             task="music_analyzer.features", params={})["job_id"]
    assert svc.jobs.start(job_id, worker="elsewhere#1.abc", max_attempts=2) == "run"
    owned = copy_of(results, "features_d.json", made=day_ago)
    svc.jobs.writes.note(job_id, svc.jobs.get(job_id)["attempts"], owned, restores=results / "features_d.json")
    result = results / "features_e.json"
    result.write_text("{}")  # a result, and a hidden file that is not a copy: never touched
    other_hidden = results / ".features_e.json.digest"
    other_hidden.write_text("x")

    assert remove_left_copies(app.config["DATA_DIR"], svc.jobs, older_than_seconds=3600) == 2
    assert not left.exists() and not named_before.exists()
    assert fresh.exists() and owned.exists() and result.exists() and other_hidden.exists()


@pytest.mark.slow  # a worker process: ~8 s here
def test_a_starting_worker_removes_the_copies_a_killed_one_left(settings, private_redis, tmp_path):
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    env, app = worker_setup(settings, url, tmp_path)
    results = app.extensions["music_analyzer"].sessions.of(USER).results_dir("batch")
    results.mkdir(parents=True, exist_ok=True)
    left = copy_of(results, "pitch_a.json", made=time.time() - 2 * 86400)
    worker = start_worker_process({**env, "LONGEST_JOB_SECONDS": "3600"}, settings["CPU_QUEUE"], "sweep@test")
    try:
        wait_for(lambda: not left.exists(), timeout=120, message="the left copy removed")
    finally:
        stop_all([worker])
    assert os.listdir(results) == []
