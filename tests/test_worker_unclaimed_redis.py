"""An extra worker whose REDIS_URL answers but is no service's database says so at start.

A stranger's extra worker pointed at the host's own Redis (run.py ran an embedded one on another port: its data
directory's default database was another's), or at another database number, started, said "ready" and waited there
for good, taking nothing, while the jobs waited for the service's own workers. Real processes: Celery workers on a
private valkey, its database unclaimed, then claimed for the workers' data directory as run.py claims it.
"""

from __future__ import annotations

import pytest

from jobs import redis_claim
from redis_server import redis_client
from storage import SessionRoot
from tests.test_resilience import stop_all, worker_setup
from tests.test_worker_redis_away_log import followed_worker

NOTE = "is a database that no service has claimed and no other worker serves"


@pytest.mark.slow
def test_a_worker_on_an_unclaimed_database_warns_and_one_on_the_services_database_does_not(
        settings, private_redis, tmp_path):
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    env, _app = worker_setup(settings, url, tmp_path)
    env.pop(redis_claim.CLAIM_ENV, None)  # started by hand, as the README's extra worker
    stray, said = followed_worker(env, "cpu-2@stray", tmp_path / "stray.log")
    try:
        assert said.wait_count("cpu-2@stray ready.", 1, timeout=120), "".join(said.lines)
        text = "".join(said.lines)
        assert NOTE in text and f"127.0.0.1:{private_redis.port}/0" in text, text
    finally:
        stop_all([stray])
    data = SessionRoot(env["DATA_DIR"])
    assert redis_claim.claim(redis_client(url), data_dir_id=data.identity() or "", path=data.root) is None  # run.py's
    served, said = followed_worker(env, "cpu-3@served", tmp_path / "served.log")
    try:
        assert said.wait_count("cpu-3@served ready.", 1, timeout=120), "".join(said.lines)
        assert NOTE not in "".join(said.lines)
    finally:
        stop_all([served])
