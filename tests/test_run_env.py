"""run.py started outside the repository folder: it and the programs it starts read one `.env` (the one in the
directory run.py is started in), and run.py says it serves only once they all are up. Real run.py, supervisord,
valkey, gunicorn and Celery worker; nothing in the test's environment names the users."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from werkzeug.security import generate_password_hash

from redis_server import free_port, redis_answers
from service.lock import DataDirLock
from service.runner import EXIT_START_FAILED
from tests.conftest import wait_for
from tests.run_served import PASSWORD, ROOT, USER, Served, stop_run

pytestmark = pytest.mark.slow

BANNER = "Music Analyzer API:"


def run_in(folder: Path, extra_env: dict[str, str]) -> Served:
    """`python <repo>/run.py` with `folder` as its working directory: the API only (no nginx, one CPU worker)."""
    api_port, redis_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    unset = ("AUTH_USERS", "AUTH_DISABLED", "ADMIN_USERS", "DATA_DIR", "MODELS_DIR", "MUSIC_ANALYZER_ENV_FILE")
    env = {k: v for k, v in os.environ.items() if k not in unset}  # the settings come from folder/.env
    env.update({"REDIS_URL": redis_url, "HEARTBEAT_SECONDS": "0.5", **extra_env})
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--port", str(api_port), "--api-workers", "1",
                             "--cpu-concurrency", "1", "--no-gpu-worker", "--front", "none"], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served = Served(proc, api_port, folder / "data", redis_url, env)
    reader = threading.Thread(target=lambda: served.lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    served.reader = reader  # type: ignore[attr-defined]  # joined once run.py has exited: its whole output
    return served


def signed_in(served: Served) -> bool:
    try:
        return requests.get(served.base + "/sessions", auth=(USER, PASSWORD), timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_run_py_started_elsewhere_gives_its_programs_the_env_file_it_read(tmp_path):
    """A stranger's run.py in another directory read the `.env` there and printed its banner, while the API and
    workers, started in the repository folder, read none and crash-looped on "no API users are configured"."""
    site = tmp_path / "site"
    site.mkdir()
    (site / ".env").write_text(f"AUTH_USERS={USER}:{generate_password_hash(PASSWORD)}\nDATA_DIR=./data\n"
                               "MODELS_DIR=./models\n")
    served = run_in(site, {})
    try:
        wait_for(lambda: served.proc.poll() is not None or signed_in(served), timeout=120, interval=0.2,
                 message="the API to take the .env's user")
        assert served.proc.poll() is None, served.output()[-3000:]
        wait_for(lambda: BANNER in served.output(), timeout=30, message="run.py's banner once all are up")
        r = requests.post(served.base + "/jobs/probe", json={"queue": "cpu", "wait": 30}, auth=(USER, PASSWORD),
                          timeout=40)
        assert r.status_code == 200 and r.json()["ok"], r.text  # the worker is up on the same settings
        assert (site / "data" / "redis").is_dir()  # DATA_DIR=./data: the site's, not the repository's
    finally:
        code = stop_run(served)
    assert code == 0, served.output()[-3000:]


def test_run_py_does_not_claim_to_serve_when_a_program_cannot_start(tmp_path):
    """The banner came before anything had started. A program that exits at each try at start (here: the API and
    the worker refuse a malformed AUTH_USERS that run.py's own check lets through) ends the run: no banner, the
    end of its log, exit 6, and nothing left running."""
    site = tmp_path / "site"
    site.mkdir()
    (site / ".env").write_text("AUTH_USERS=nocolon\n")
    served = run_in(site, {"SUPERVISE_START_RETRIES": "1"})
    try:
        code = served.proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        stop_run(served)
        pytest.fail(f"run.py went on after its programs failed to start:\n{served.output()[-3000:]}")
    served.reader.join(timeout=30)  # type: ignore[attr-defined]
    out = served.output()
    assert code == EXIT_START_FAILED, out[-3000:]
    assert BANNER not in out and "curl" not in out, out[-3000:]
    assert "could not start" in out and "is not 'name:hash'" in out, out[-3000:]  # the cause, from its log
    assert not redis_answers(served.redis_url)  # the embedded valkey it started is stopped
    lock = DataDirLock(served.layout.lock_file)
    lock.acquire()  # the data directory is free for the next run
    lock.release()
