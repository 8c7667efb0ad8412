"""What a `celery worker`'s stop (SIGTERM) costs past its jobs, paid at each of the test suite's ~150 worker stops
and by run.py's and systemd's: an idle CPU worker had taken 1.4-2.2 s to exit here, 0.36-0.41 s with both below.

- BROKER_POLL_SECONDS: how long a worker's wait for its next message (a Redis BRPOP) lasts; a stop waits for the one
  in flight (kombu's 1 s by default; the suite's 0.2, tests/conftest.py).
- The interpreter's garbage collections at exit, over the ~2,400 modules a CPU worker imported before its first job
  (~0.5 s of CPU): make_celery.py freezes the objects once the worker has stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import SettingsError, load_settings


def test_a_workers_broker_wait_is_the_setting(settings, redis_url, tmp_path):
    from app import create_app

    app = create_app({**settings, "DATA_DIR": str(tmp_path / "data"), "BROKER_POLL_SECONDS": 0.3})
    with app.extensions["celery"].connection_for_read() as conn:
        assert conn.default_channel.brpop_timeout == 0.3
    assert load_settings({}, dotenv=False)["BROKER_POLL_SECONDS"] == 1.0  # kombu's own default


@pytest.mark.parametrize("bad", ["0", "-1", "soon"])
def test_a_broker_wait_that_cannot_work_is_refused(bad):
    with pytest.raises(SettingsError, match="BROKER_POLL_SECONDS"):
        load_settings({"BROKER_POLL_SECONDS": bad}, dotenv=False)


def test_a_stopped_worker_process_leaves_its_objects_to_the_exit(settings, redis_url, tmp_path):
    """The `celery worker` entry point's objects are frozen (left out of garbage collections) by its shutdown signal,
    sent once the worker has stopped, and not before."""
    code = ("import gc, json, types; import make_celery; from celery import signals; before = gc.get_freeze_count(); "
            "worker = type('Worker', (), {'app': types.SimpleNamespace(flask_app=None), 'hostname': 'stop@test'})(); "
            "signals.worker_shutdown.send(sender=worker); print(json.dumps([before, gc.get_freeze_count()]))")
    env = {**os.environ, "REDIS_URL": redis_url, "DATA_DIR": str(tmp_path / "data"),
           "AUTH_USERS": settings["AUTH_USERS"], "MUSIC_ANALYZER_ENV_FILE": str(tmp_path / "no.env")}
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == 0 and after > 1000, (before, after)
