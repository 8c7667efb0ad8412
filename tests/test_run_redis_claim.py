"""Two run.py services with different DATA_DIRs and one REDIS_URL: the second is refused at start, naming both data
directories and what to set, and the first serves on untouched; a scale-out worker of the first's data directory (the
README's command) still joins it.

A stranger's two trials on one host shared the host's Redis at the default URL: a worker of one took the other's job
and stopped (data_dir_mismatch), and their job records, session indexes and /metrics counts mixed. Real run.py
processes, a real valkey of the test's own on a free port (a database number of the test's own on it), real HTTP.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import threading

import pytest
import requests
from werkzeug.security import generate_password_hash

from config import ENV_FILE_VAR
from jobs import keys, redis_claim
from redis_server import free_port, redis_client, start_embedded
from service.redis_choice import OWN_SERVER_FILE
from service.runner import EXIT_REDIS_CLAIMED
from storage import SessionRoot
from tests.conftest import wait_for
from tests.run_served import AUTH, PASSWORD, ROOT, USER, Served, features_session, health, probe, start_run, stop_run

pytestmark = pytest.mark.slow
MAX_DATABASE = 15  # valkey's default `databases` is 16
DEFAULT_REDIS_PORT = 6379  # REDIS_URL's default: the host's Redis


def test_a_second_service_on_another_data_directory_is_refused_and_the_first_one_serves_on(tmp_path, numba_cache):
    valkey = start_embedded(tmp_path / "valkey")
    db = random.randint(1, MAX_DATABASE)
    url = f"redis://127.0.0.1:{valkey.port}/{db}"
    env = {"REDIS_URL": url, "AUTH_USERS": f"{USER}:{generate_password_hash(PASSWORD)}", "AUTH_DISABLED": "0",
           "NUMBA_CACHE_DIR": str(numba_cache)}  # compiled: its features job had compiled it in the run's DATA_DIR
    first = start_run(tmp_path / "first", env)
    second = None
    scale_out = None
    try:
        wait_for(lambda: health(first.base), timeout=240, interval=0.2, message="the first service's /health")
        sid, names = features_session(first, tmp_path, [1.0])
        done = requests.post(f"{first.base}/process/features/{sid}", json={"file": names[0], "picture": False,
                                                                          "wait": 120}, auth=AUTH, timeout=180)
        assert done.status_code == 200 and done.json()["state"] == "succeeded", done.text
        job_id = done.json()["job_id"]
        before = requests.get(f"{first.base}/jobs/{job_id}", auth=AUTH, timeout=30).json()

        second = start_run(tmp_path / "second", env)
        assert second.proc.wait(timeout=120) == EXIT_REDIS_CLAIMED, second.output()
        said = second.output()
        first_dir, second_dir = (tmp_path / "first" / "data").resolve(), (tmp_path / "second" / "data").resolve()
        assert str(first_dir) in said and str(second_dir) in said, said
        assert "worker(s) of it alive now" in said and "(empty now)" in said and "leave REDIS_URL unset" in said, said
        assert "spawned" not in said and "Music Analyzer API" not in said, said  # nothing of it started

        # the first one's database: its claim, its job as it was, and its queues served
        client = redis_client(url)
        held = redis_claim.read(client)
        assert held is not None and held.path == str(first_dir), held
        assert held.data_dir_id == SessionRoot(first_dir).identity()
        assert requests.get(f"{first.base}/jobs/{job_id}", auth=AUTH, timeout=30).json() == before
        assert health(first.base) and probe(first, "cpu") and probe(first, "gpu")

        # the same data directory is no conflict: the README's scale-out worker joins the first service
        scale_out = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "make_celery", "worker", "-Q", "cpu", "--pool", "prefork",
             "--concurrency", "1", "-n", "cpu-2@%h", "--loglevel", "INFO"],
            cwd=ROOT, env={**first.env, "DATA_DIR": str(first_dir)}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        wait_for(lambda: any(keys.text(name).startswith("cpu-2@") and client.exists(keys.worker(keys.text(name)))
                             for name in client.smembers(keys.WORKERS)) or scale_out.poll() is not None,
                 timeout=120, interval=0.2, message="the scale-out worker's heartbeat")
        assert scale_out.poll() is None, scale_out.returncode
    finally:
        if scale_out is not None and scale_out.poll() is None:
            scale_out.terminate()  # its warm shutdown runs beside the services' stops, not before them
        if second is not None and second.proc.poll() is None:
            stop_run(second)
        stop_run(first)
        if scale_out is not None:
            scale_out.wait(timeout=60)
        first.layout.remove_metrics_dir()
        valkey.stop()


def test_with_redis_url_unset_a_data_directory_that_chose_its_own_server_keeps_to_it(tmp_path):
    """REDIS_URL unset on a host whose default Redis served another data directory: run.py ran an embedded server for
    this one and kept the choice (DATA_DIR/redis/own-server). A later start keeps to it, where this data directory's
    jobs are, and never asks the default URL (the host's Redis, not the test's to touch)."""
    data = tmp_path / "data"
    (data / "redis").mkdir(parents=True)
    (data / "redis" / OWN_SERVER_FILE).write_text("chosen at an earlier start\n")
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", ENV_FILE_VAR)}
    env.update({"DATA_DIR": str(data), "MODELS_DIR": str(tmp_path / "models"), "HEARTBEAT_SECONDS": "0.5",
                "AUTH_USERS": f"{USER}:{generate_password_hash(PASSWORD)}", "AUTH_DISABLED": "0"})
    assert not (ROOT / ".env").exists()  # nothing else names a REDIS_URL
    proc = subprocess.Popen([sys.executable, "run.py", "--port", str(api_port), "--api-workers", "1",
                             "--cpu-concurrency", "1", "--no-gpu-worker", "--front", "none"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    run = Served(proc, api_port, data, "", env)
    threading.Thread(target=lambda: run.lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        wait_for(lambda: "Music Analyzer API:" in run.output(), timeout=240, message="run.py's banner")
        banner = run.output().split("Music Analyzer API:", 1)[1]
        shown = re.search(r"\(Redis: redis://127\.0\.0\.1:(\d+)/0, embedded\)", banner)
        assert shown and int(shown.group(1)) != DEFAULT_REDIS_PORT, banner
        assert probe(run, "cpu")  # served (no GPU worker here: /health says degraded)
        held = redis_claim.read(redis_client(f"redis://127.0.0.1:{shown.group(1)}/0"))  # its workers claimed it
        assert held is not None and held.data_dir_id == SessionRoot(data).identity()
    finally:
        stop_run(run)
        run.layout.remove_metrics_dir()
