"""A worker whose settings cannot work says so in one plain line and exits 78 (EX_CONFIG), which its systemd unit
does not restart.

A stranger's extra worker had `HEARTBEAT_SECONDS=abc` in its environment (another time: no AUTH_USERS, its `.env` not
copied). Under `Restart=always` it started every few seconds and wrote 77 lines each time, a Celery import traceback
ending in "ValueError: Couldn't import 'make_celery': HEARTBEAT_SECONDS='abc' is not a number", for as long as
nobody looked. Real worker processes, the command the unit runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_deploy_units import UNIT, unit_settings

ROOT = Path(__file__).resolve().parent.parent
EX_CONFIG = 78


def start_worker(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    settings = {k: v for k, v in os.environ.items() if k not in ("AUTH_USERS", "AUTH_DISABLED")}
    settings.update(MUSIC_ANALYZER_ENV_FILE=str(tmp_path / "no.env"), DATA_DIR=str(tmp_path / "data"),
                    REDIS_URL="redis://127.0.0.1:1/0", **env)  # it stops before it would connect
    return subprocess.run([sys.executable, "-m", "celery", "-A", "make_celery", "worker", "-Q", "cpu", "-n",
                           "cpu-misconfigured@test"], cwd=ROOT, env=settings, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(("env", "says"), [
    ({"AUTH_USERS": "u:hash", "HEARTBEAT_SECONDS": "abc"}, "HEARTBEAT_SECONDS='abc' is not a number"),
    ({}, "no API users are configured"),
])
def test_a_misconfigured_worker_says_what_is_wrong_in_one_line_and_is_not_restarted(tmp_path, env, says):
    ran = start_worker(tmp_path, **env)
    out = ran.stdout + ran.stderr
    assert ran.returncode == EX_CONFIG, out
    assert says in out and "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and "worker not started" in lines[0] and "no.env" in lines[0], out
    assert unit_settings(UNIT.read_text())["RestartPreventExitStatus"] == str(EX_CONFIG)
