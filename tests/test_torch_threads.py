"""TORCH_NUM_THREADS' `auto` default: a GPU worker on the CPU leaves the CPU pool's cores to it (config.torch_threads).

A stranger's SmolLM2 analysis took 768 s (0.69 tokens/s) with torch on every core beside the CPU worker's pool, and
23.9 s with TORCH_NUM_THREADS=1. Real processes: a `celery worker` of the GPU queue with the real settings (its
environment, no `.env`), SmolLM2 loaded through the real HTTP API; the load's answer says the threads it runs with.
"""

from __future__ import annotations

import os

import pytest
import requests

from config import load_settings, torch_threads, usable_cores
from tests.conftest import PASSWORD, USER, serving
from tests.test_resilience import stop_all, worker_setup
from tests.test_worker_start_redis_away import worker_told

READY = " ready."  # Celery's "<node> ready." (INFO)


def cuda() -> bool:
    import torch

    return torch.cuda.is_available()


on_the_cpu = pytest.mark.skipif(cuda(), reason="auto leaves a CUDA host's torch threads as they were")


def loaded_threads(settings, private_redis, tmp_path, smollm2_folder, **env: str) -> int:
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    base_env, app = worker_setup(settings, url, tmp_path)
    worker_env = {k: v for k, v in base_env.items() if k not in ("TORCH_NUM_THREADS", "CPU_CONCURRENCY", "DEVICE")}
    worker_env.update({"NUMBA_WARMUP": "0", "SMOLLM2_MODEL_PATH": str(smollm2_folder),
                       "MODELS_DIR": str(tmp_path / "models"), "MUSIC_ANALYZER_ENV_FILE": str(tmp_path / "no.env"),
                       **env})
    log = tmp_path / "worker.log"
    worker, ready = worker_told(worker_env, log, READY, name="threads@test", loglevel="INFO",
                                queue=worker_env["GPU_QUEUE"])
    try:
        assert ready.wait(timeout=120), log.read_text()[-3000:]
        with serving(app) as base:
            r = requests.post(f"{base}/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 120},
                              auth=(USER, PASSWORD), timeout=150)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["device"] == "cpu", body
        return body["cpu_threads"]
    finally:
        stop_all([worker])


@pytest.mark.slow
@on_the_cpu
def test_the_default_leaves_the_cpu_pools_cores(settings, private_redis, tmp_path, smollm2_folder):
    # run.py's CPU pool takes every usable core by default: torch gets 1 (it had taken them all: 2 here)
    expected = max(1, usable_cores() - usable_cores())
    assert expected == torch_threads(load_settings({}, dotenv=False), device="cpu") == 1
    assert loaded_threads(settings, private_redis, tmp_path, smollm2_folder) == expected


@pytest.mark.slow
@on_the_cpu
def test_an_explicit_setting_wins(settings, private_redis, tmp_path, smollm2_folder):
    threads = 2 if usable_cores() == 1 else usable_cores()  # not what auto would give
    assert loaded_threads(settings, private_redis, tmp_path, smollm2_folder, TORCH_NUM_THREADS=str(threads)) == threads


def test_the_rule():
    cores = usable_cores()
    assert cores == len(os.sched_getaffinity(0))
    assert torch_threads({"TORCH_NUM_THREADS": "auto", "CPU_CONCURRENCY": 0}, device="cpu") == 1
    assert torch_threads({"TORCH_NUM_THREADS": "auto", "CPU_CONCURRENCY": 1}, device="cpu") == max(1, cores - 1)
    assert torch_threads({"TORCH_NUM_THREADS": "auto", "CPU_CONCURRENCY": 1}, device="cuda") == 0  # torch's own
    assert torch_threads(load_settings({"TORCH_NUM_THREADS": "3"}, dotenv=False), device="cpu") == 3
    assert torch_threads(load_settings({"TORCH_NUM_THREADS": "0"}, dotenv=False), device="cpu") == 0
    assert load_settings({"TORCH_NUM_THREADS": "AUTO"}, dotenv=False)["TORCH_NUM_THREADS"] == "auto"
    from config import SettingsError

    for bad in ("-1", "1.5", "many"):
        with pytest.raises(SettingsError, match="TORCH_NUM_THREADS"):
            load_settings({"TORCH_NUM_THREADS": bad}, dotenv=False)
