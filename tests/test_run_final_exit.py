"""run.py whose worker takes a job of another deployment (two services on one Redis, each its own DATA_DIR): the
worker exits 78 and stays down, run.py's output says why and its /health lists it under stopped_workers. Its
supervisord had restarted it in a loop (autorestart=true), each start taking such a job and handing it back, and
nothing said why. Real run.py, supervisord, valkey, API and Celery worker; the other deployment a real API over HTTP.
"""

from __future__ import annotations

import uuid

import pytest
import requests
from werkzeug.security import generate_password_hash

from config import EX_CONFIG
from tests.audio_synth import sine, write
from tests.conftest import Client, serving, wait_for
from tests.run_served import AUTH, PASSWORD, USER, start_run, stop_run
from tests.test_api_sessions import upload

pytestmark = pytest.mark.slow
NOTE = "cpu-worker stopped with exit status 78"


def test_a_run_py_worker_on_another_deployments_job_stays_down_and_says_why(settings, tmp_path):
    from app import create_app

    token = uuid.uuid4().hex[:8]
    queues = {"CPU_QUEUE": f"cpu-{token}", "GPU_QUEUE": f"gpu-{token}"}
    users = f"{USER}:{generate_password_hash(PASSWORD)}"
    run = start_run(tmp_path / "run", {"AUTH_USERS": users, "AUTH_DISABLED": "0", **queues},
                    ["--no-gpu-worker", "--front", "none"])
    try:
        wait_for(lambda: "Music Analyzer API:" in run.output(), timeout=180, message="run.py's banner")
        # another deployment on the same Redis and queues, with a data directory of its own
        other = create_app({**settings, **queues, "REDIS_URL": run.redis_url, "AUTH_USERS": users,
                            "DATA_DIR": str(tmp_path / "other-data")})
        with serving(other) as base:
            client = Client(base, AUTH)
            tone = write(tmp_path / "tone.wav", sine(300.0 + uuid.uuid4().int % 400, 1.0))
            assert upload(client, "elsewhere", tone).status_code == 201
            job_id = client.post("/process/features/elsewhere", json={"file": "tone.wav"}).json()["job_id"]
            wait_for(lambda: NOTE in run.output(), timeout=120, message="the guard's note on run.py's output")
            assert client.get(f"/jobs/{job_id}").json()["state"] == "queued"  # handed back, untouched
        note = next(line for line in run.output().splitlines() if NOTE in line)
        assert "NOT restarted" in note and "does not share the service's data directory" in note and job_id in note
        public = requests.get(f"{run.base}/health", timeout=10).json()
        assert public["status"] == "degraded" and "cpu" in public["queues_without_worker"], public
        assert [(s["queues"], s["reason"], s["exit_status"]) for s in public["stopped_workers"]] == [
            (["cpu"], "data_dir_mismatch", EX_CONFIG)], public
        assert run.sup().programs()["cpu-worker"]["statename"] == "EXITED"
        assert run.proc.poll() is None  # the API goes on serving: its results, its downloads
    finally:
        code = stop_run(run) if run.proc.poll() is None else run.proc.returncode
    output = run.output()
    assert code == 0, output[-3000:]
    assert output.count("spawned: 'cpu-worker'") == 1, output[-3000:]  # never restarted, to the end of the run
