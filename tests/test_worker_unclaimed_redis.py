"""An extra worker whose REDIS_URL answers but is no service's database says so at start.

A stranger's extra worker pointed at the host's own Redis (run.py ran an embedded one on another port: its data
directory's default database was another's), or at another database number, started, said "ready" and waited there
for good, taking nothing, while the jobs waited for the service's own workers. Real processes: Celery workers on a
private valkey, its database unclaimed, then claimed for the workers' data directory as run.py claims it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from jobs import redis_claim
from redis_server import redis_client
from storage import SessionRoot
from tests.test_resilience import ROOT, stop_all, worker_setup
from tests.test_worker_redis_away_log import Followed

NOTE = "is a database that no service has claimed and no other worker serves"


def started(env: dict, name: str, log) -> tuple[subprocess.Popen, Followed]:
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "make_celery", "worker", "--pool", "solo", "--concurrency", "1",
         "-Q", env["CPU_QUEUE"], "-n", name, "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env={**env, "NUMBA_WARMUP": "0"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return worker, Followed(worker, log)


@pytest.mark.slow
def test_a_worker_on_an_unclaimed_database_warns_and_one_on_the_services_database_does_not(
        settings, private_redis, tmp_path):
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    env, _app = worker_setup(settings, url, tmp_path)
    env.pop(redis_claim.CLAIM_ENV, None)  # started by hand, as the README's extra worker
    stray, said = started(env, "cpu-2@stray", tmp_path / "stray.log")
    try:
        assert said.wait_count("cpu-2@stray ready.", 1, timeout=120), "".join(said.lines)
        text = "".join(said.lines)
        assert NOTE in text and f"127.0.0.1:{private_redis.port}/0" in text, text
    finally:
        stop_all([stray])
    data = SessionRoot(env["DATA_DIR"])
    assert redis_claim.claim(redis_client(url), data_dir_id=data.identity() or "", path=data.root) is None  # run.py's
    served, said = started(env, "cpu-3@served", tmp_path / "served.log")
    try:
        assert said.wait_count("cpu-3@served ready.", 1, timeout=120), "".join(said.lines)
        assert NOTE not in "".join(said.lines)
    finally:
        stop_all([served])
