"""run.py with a REDIS_URL naming another host: the Redis that workers on other machines share (README "More
CPU workers"). Real run.py, real valkey-server on another loopback address standing in for that host."""

from __future__ import annotations

import subprocess

import pytest
import requests
from werkzeug.security import generate_password_hash

from redis_server import free_port, redis_answers, valkey_binary
from tests.conftest import wait_for
from tests.run_served import PASSWORD, USER, health, probe, start_run, stop_run

pytestmark = pytest.mark.slow


def test_a_shared_redis_away_at_start_is_waited_for_not_replaced_by_an_embedded_one(tmp_path):
    """A stranger's server whose REDIS_URL named its own address for the other machines' workers (as the README
    says to copy .env to them) ran a private embedded valkey on a random loopback port instead, without a word
    but ", embedded": its jobs went there and the other machines' workers idled on the named Redis for good."""
    port = free_port()
    shared = f"redis://127.0.0.2:{port}/0"  # not 127.0.0.1: what run.py takes for another host
    assert not redis_answers(shared)
    run = start_run(tmp_path, {"REDIS_URL": shared, "AUTH_USERS": f"{USER}:{generate_password_hash(PASSWORD)}",
                               "AUTH_DISABLED": "0"})
    valkey = None
    try:
        wait_for(lambda: "Music Analyzer API:" in run.output(), timeout=60, message="run.py's intro")
        intro = run.output()
        assert f"(Redis: {shared}, not answering yet" in intro and "embedded" not in intro, intro
        assert "spawned: 'valkey'" not in intro
        # the API serves and says Redis is away (503), where an embedded one had answered 200
        wait_for(lambda: _status(run.base) == 503, timeout=120, interval=0.2, message="the API's 503 without Redis")

        valkey = subprocess.Popen([str(valkey_binary()), "--bind", "127.0.0.2", "--port", str(port), "--save", "",
                                   "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # the waiting workers come up on the shared Redis and serve jobs queued there
        wait_for(lambda: health(run.base), timeout=180, interval=0.2, message="/health ok on the shared Redis")
        assert probe(run, "cpu") and probe(run, "gpu")
    finally:
        stop_run(run)
        run.layout.remove_metrics_dir()
        if valkey is not None:
            valkey.terminate()
            valkey.wait(timeout=30)


def _status(base: str) -> int | None:
    try:
        return requests.get(base + "/health", timeout=2).status_code
    except requests.RequestException:
        return None


def test_a_redis_that_keeps_nothing_on_disk_is_named_at_start_by_run_py_and_the_workers(tmp_path):
    """A stranger's own Redis (save "", appendonly no) restarted with jobs queued, running and finished came back
    empty: the queued jobs never ran and every job's GET answered 404, and nothing had said the queue was volatile.
    run.py's banner and each worker's log now say so at start; the embedded valkey (append-only) is not named."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    valkey = subprocess.Popen([str(valkey_binary()), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: redis_answers(url), timeout=30, message="the volatile valkey")
        run = start_run(tmp_path, {"REDIS_URL": url, "AUTH_USERS": f"{USER}:{generate_password_hash(PASSWORD)}",
                                   "AUTH_DISABLED": "0"})
        try:
            wait_for(lambda: "Music Analyzer API:" in run.output(), timeout=180, message="run.py's banner")
            banner = run.output().split("Music Analyzer API:", 1)[1]
            assert "warning: Redis keeps nothing on disk" in banner and "appendonly yes" in banner, banner
            log = run.layout.logs / "cpu-worker.log"
            wait_for(lambda: log.exists() and "Redis keeps nothing on disk" in log.read_text(), timeout=60,
                     message="the worker's warning")
        finally:
            stop_run(run)
            run.layout.remove_metrics_dir()
    finally:
        valkey.terminate()
        valkey.wait(timeout=30)
