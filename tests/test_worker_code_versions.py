"""GET /health says when the live workers run different analysis code.

A stranger added a worker on another machine from a day-old checkout: it took half the features jobs beside the
server's own worker and wrote the old code's results, and nothing said so (/health listed two healthy workers). Each
worker now beats its `code_version` (the digest of worker/ the result cache uses, jobs/cache.py), and /health says
`mixed_code_versions` (status `degraded`) while live workers differ. Real processes: a Celery worker from this
checkout and one from a copy of it whose worker/ holds one more file, on a private valkey; /health over real HTTP.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import Client, serving
from tests.test_cli import cli_env, ma
from tests.test_resilience import ROOT, stop_all, worker_setup
from tests.test_worker_redis_away_log import followed_worker

NOT_CODE = (".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__", "models", "data", "tests", "bench",
            "docs", "node_modules", ".env")


@pytest.mark.slow
def test_health_says_when_live_workers_run_different_code(settings, private_redis, tmp_path):
    env, app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    other = shutil.copytree(ROOT, tmp_path / "other-checkout", ignore=shutil.ignore_patterns(*NOT_CODE))
    (other / "worker" / "newer_step.py").write_text('"""a module this checkout does not have: other code"""\n')
    here, here_out = followed_worker(env, "cpu@here", tmp_path / "here.log")
    there, there_out = followed_worker(env, "cpu-2@there", tmp_path / "there.log", cwd=other)
    try:
        assert here_out.wait_count("cpu@here ready.", 1, timeout=120), "".join(here_out.lines)
        assert there_out.wait_count("cpu-2@there ready.", 1, timeout=120), "".join(there_out.lines)
        with serving(app) as base:
            public = Client(base, auth=None).get("/health").json()
            assert public["mixed_code_versions"] is True and public["status"] == "degraded", public
            full = Client(base).get("/health").json()
            versions = {w["node"]: w["code_version"] for w in full["workers"] if w["alive"]}
            assert set(versions) == {"cpu@here", "cpu-2@there"}, full
            assert None not in versions.values() and versions["cpu@here"] != versions["cpu-2@there"], versions
            said = ma(cli_env(base, tmp_path), "health")  # the CLI says why the server is degraded
            assert "the workers run different versions of the analysis code" in said.stdout, said.stdout
            stop_all([there])  # a graceful stop takes its record with it
            assert Client(base).get("/health").json()["mixed_code_versions"] is False
    finally:
        stop_all([here, there])
