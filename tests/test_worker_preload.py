"""A CPU worker's pool processes begin with the analysis modules imported (jobs/warmup.py `preload_job_modules`).

A stranger's extra worker spent ~5 s of a 1.6 s clip's first features job in each new pool process (0.3 s once
warm): importing numpy, scipy, librosa, numba, matplotlib. The main process now imports them before the pool forks.
Real processes: a prefork worker on a private valkey; its pool child's memory map read before any job.
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.test_resilience import stop_all, worker_setup
from tests.test_worker_start_redis_away import worker_told

READY = " ready."  # Celery's "<node> ready." (INFO): the pool has started


def mapped_files(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.slow
def test_a_prefork_workers_pool_process_starts_with_the_analysis_modules(settings, private_redis, tmp_path):
    env, _app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    log = tmp_path / "worker.log"
    worker, ready = worker_told({**env, "NUMBA_WARMUP": "0"}, log, READY, pool="prefork", name="preload@test",
                                loglevel="INFO")
    try:
        assert ready.wait(timeout=120), log.read_text()[-3000:]
        [child] = psutil.Process(worker.pid).children()
        maps = mapped_files(child.pid)
        # librosa's resampler and matplotlib's Agg renderer: native modules only the analysis jobs load
        assert "soxr" in maps and "_backend_agg" in maps, maps[-2000:]
        assert "analysis modules imported in" in log.read_text()
    finally:
        stop_all([worker])


@pytest.mark.slow
def test_a_gpu_worker_does_not_import_them(settings, private_redis, tmp_path):
    """A worker of the GPU queue alone (solo pool, its own models) has no use for them at start."""
    env, _app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    log = tmp_path / "worker.log"
    worker, ready = worker_told({**env, "NUMBA_WARMUP": "0"}, log, READY, name="gpuonly@test", loglevel="INFO",
                                queue=env["GPU_QUEUE"])
    try:
        assert ready.wait(timeout=120), log.read_text()[-3000:]
        assert "soxr" not in mapped_files(worker.pid)
    finally:
        stop_all([worker])
