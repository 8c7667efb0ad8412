"""A worker whose DATA_DIR is not the service's hands its jobs on and stops, instead of failing them, with exit status
78 (EX_CONFIG), which its systemd unit does not restart: it had exited 0, and a supervisor restarted it in a loop.

A stranger's day two: a second CPU worker "on another machine" was started with the right REDIS_URL and a DATA_DIR
of its own. It took its share of the jobs and failed each `session_not_found`, "session 'dd1' does not exist", of a
session the user had just uploaded to. Real Redis (the test session's), a real API over HTTP and real Celery worker
processes: the wrong one first, alone on the queue, then one on the shared data directory.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import redis
import requests

from config import EX_CONFIG
from jobs import keys
from storage import DATA_DIR_ID_FILE
from tests.audio_synth import sine, write
from tests.conftest import Client, serving
from tests.test_cli import cli_env, ma
from tests.test_resilience import start_worker_process, stop_all


def worker(settings: dict, redis_url: str, data: Path, name: str, pool: str = "prefork") -> subprocess.Popen:
    """A worker on the test's queue with `data` as its DATA_DIR; its log beside that folder."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATA_DIR": str(data), "AUTH_USERS": settings["AUTH_USERS"],
           "HEARTBEAT_SECONDS": "0.5", "CPU_QUEUE": settings["CPU_QUEUE"], "GPU_QUEUE": settings["GPU_QUEUE"]}
    return start_worker_process(env, settings["CPU_QUEUE"], name, pool=pool)


def log_of(name: str, folder: Path) -> str:
    return "".join(path.read_text() for path in folder.glob(f"worker-{name}-*.log"))


@pytest.fixture
def forget_stopped(redis_url):
    """The session's Redis is shared by every test: no stopped-worker note is left to make /health degraded."""
    yield
    redis.Redis.from_url(redis_url).delete(keys.STOPPED_WORKERS)


@pytest.mark.slow
@pytest.mark.usefixtures("forget_stopped")
@pytest.mark.parametrize("pool", ["prefork", "solo"])  # a CPU worker's pool child tells its parent; the GPU's is one
def test_a_worker_on_another_data_directory_hands_the_job_on_and_stops(own_queues, redis_url, tmp_path, pool):
    from app import create_app

    app = create_app(own_queues)
    shared = Path(own_queues["DATA_DIR"])
    with serving(app) as base:
        client = Client(base)
        # a tone no other test uploads: the same bytes analysed before (another test's 440 Hz second) are answered
        # from the result cache at once, no worker involved, and the wrong worker then waited for a job in vain
        tone = write(tmp_path / "tone.wav", sine(300.0 + uuid.uuid4().int % 400, 1.0))
        with open(tone, "rb") as fh:
            assert client.post("/sessions/shared-dir/files", files={"file": fh}).status_code == 201
        # no picture: the right worker would import matplotlib and draw it (~1-2 s), which this test proves nothing with
        made = client.post("/process/features/shared-dir", json={"file": "tone.wav", "picture": False}).json()
        job_id = made["job_id"]
        assert made["state"] == "queued", made

        elsewhere = tmp_path / "its-own-data"
        wrong = worker(own_queues, redis_url, elsewhere, "cpu-wrong@elsewhere", pool)
        try:
            # (a wait that times out is a worker that went on taking jobs)
            assert wrong.wait(timeout=90) == EX_CONFIG, log_of("cpu-wrong@elsewhere", tmp_path)
        finally:
            stop_all([wrong])
        log = log_of("cpu-wrong@elsewhere", tmp_path)
        assert "does not share the service's data directory" in log and job_id in log, log
        # said once, plainly: Celery had followed it with a WARNING and the traceback of the Reject that hands the
        # job back, which read as a crash
        assert log.count(job_id) == 1 and "Traceback" not in log and "Reject" not in log, log
        assert f"exit status {EX_CONFIG}" in log, log
        job = client.get(f"/jobs/{job_id}").json()
        assert (job["state"], job["attempts"], job.get("error")) == ("queued", 0, None), job
        assert (shared / DATA_DIR_ID_FILE).read_text() != (elsewhere / DATA_DIR_ID_FILE).read_text()
        # /health says which worker is down and why (a supervisor leaves it down): it had shown only its queue
        # without a worker. The public view names no worker
        public = requests.get(f"{base}/health", timeout=10).json()
        assert public["status"] == "degraded", public
        assert [(s["queues"], s["reason"], s["exit_status"]) for s in public["stopped_workers"]] == [
            (["cpu"], "data_dir_mismatch", EX_CONFIG)], public
        assert "name" not in public["stopped_workers"][0], public
        full = client.get("/health").json()
        assert [(s["name"], s["queues"]) for s in full["stopped_workers"]] == [
            ("cpu-wrong@elsewhere", [own_queues["CPU_QUEUE"]])], full
        told = ma(cli_env(base, tmp_path), "health")
        assert "stopped   cpu-wrong@elsewhere: data_dir_mismatch (exit status 78" in told.stdout, told.stdout

        # its operator mounts the shared directory and starts it again, under the same name; solo: any worker on the
        # shared directory proves the job was handed on, and a prefork one adds its pool child's start and, stopped,
        # waits for that child
        right = worker(own_queues, redis_url, shared, "cpu-wrong@elsewhere", "solo")
        try:
            done = client.wait_job(job_id, timeout=120)
        finally:
            stop_all([right])
        assert done["state"] == "succeeded", (done, log_of("cpu-wrong@elsewhere", shared.parent))
        assert done["attempts"] == 1
        assert requests.get(f"{base}/health", timeout=10).json()["stopped_workers"] == []  # its stop is over
