"""The one-command run: `python run.py` on a machine whose REDIS_URL answers nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from redis_server import redis_answers
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_run_py_starts_embedded_redis_api_and_workers_then_stops(tmp_path):
    api_port, redis_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    assert not redis_answers(redis_url)
    env = {**os.environ, "AUTH_DISABLED": "1", "DATA_DIR": str(tmp_path / "data"), "REDIS_URL": redis_url,
           "MODELS_DIR": str(tmp_path / "models"), "HEARTBEAT_SECONDS": "0.5"}
    proc = subprocess.Popen([sys.executable, "run.py", "--port", str(api_port), "--api-workers", "1",
                             "--cpu-concurrency", "1"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    base = f"http://127.0.0.1:{api_port}"
    try:
        def healthy():
            try:
                h = requests.get(base + "/health", timeout=2).json()
            except requests.RequestException:
                return None
            return h if h.get("status") == "ok" else None

        health = wait_for(healthy, timeout=180, interval=0.2, message="run.py to serve /health with both workers")
        assert {q for w in health["workers"] for q in w["queues"]} == {"gpu", "cpu"}
        assert redis_answers(redis_url)  # the embedded valkey-server, on the configured port
        assert (tmp_path / "data" / "redis").is_dir()
        for queue in ("cpu", "gpu"):
            r = requests.post(base + "/jobs/probe", json={"queue": queue, "wait": 30}, timeout=40)
            assert r.status_code == 200 and r.json()["ok"], r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    assert "curl" in out and base in out  # it told the user where it listens
    assert proc.returncode == 0
    assert not redis_answers(redis_url)  # and stopped what it started
