"""Test runs on one host do not disturb each other: this session's jobs reach only this session's worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.submit import submit
from tests.conftest import USER, node_of
from worker.options import NoOptions

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_worker_on_other_queue_names_never_receives_this_sessions_jobs(app, admin_client, settings, redis_url,
                                                                         worker_name, tmp_path):
    other_queues = {"GPU_QUEUE": "gpu", "CPU_QUEUE": "cpu"}  # what another run with default names consumes
    env = {**os.environ, "REDIS_URL": redis_url, "DATA_DIR": str(tmp_path / "data"),
           "AUTH_USERS": settings["AUTH_USERS"], "HEARTBEAT_SECONDS": "0.5", **other_queues}
    other = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "make_celery", "worker", "--pool", "solo", "-Q", "cpu,gpu",
         "-n", "other@test", "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    svc = app.extensions["music_analyzer"]
    try:
        with app.test_request_context():  # prove the other worker serves its own queue first
            probe = submit("probe", owner=USER, session_id=None, options=NoOptions(), queue="cpu")
        done = svc.jobs.wait_for_state(probe["job_id"], ("succeeded",), timeout=120)
        assert done["state"] == "succeeded" and node_of(done["result"]["worker"]) == "other@test"
        # an admin's probes: their answers name the worker (null for other users)
        ours = [admin_client.post("/jobs/probe", json={"queue": q, "wait": 30}).json() for q in ("cpu", "gpu") * 3]
        for body in ours:
            assert body["ok"] and node_of(body["worker"]) == worker_name, body
            assert admin_client.get(f"/jobs/{body['job_id']}").json()["attempts"] == 1
    finally:
        other.terminate()
        other.wait(timeout=30)
