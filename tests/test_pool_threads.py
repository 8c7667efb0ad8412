"""TORCH_NUM_THREADS=auto follows the CPU pool: a generation on the CPU takes the cores that this host's running CPU
pool jobs leave, at its start and at its progress checkpoints (worker/llm/threads.py, jobs/host_pool.py).

A count fixed at the load (the cores minus CPU_CONCURRENCY) left a 16-core host whose 15-process pool sat idle
generating on one thread. Real Redis (valkey); the slow test runs a real features job in a real prefork CPU worker
beside a real SmolLM2 generation in this process, through the ModelManager as the GPU worker makes it.
"""

from __future__ import annotations

import pytest
import redis
import torch

from config import load_settings, usable_cores
from jobs.host_pool import HostPool
from models import ModelManager
from tests.prefork_job import job_in_a_pool_child
from worker.llm.options import GenerateOptions
from worker.llm.threads import PoolThreads, adapts, threads_beside
from worker.progress import current_detail

on_the_cpu = pytest.mark.skipif(torch.cuda.is_available(), reason="auto leaves a CUDA host's torch threads alone")


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_count_is_the_cores_this_hosts_running_pool_jobs_leave(private_redis):
    client = redis.Redis(port=private_redis.port)
    here, elsewhere = HostPool(client, host="here", lease_seconds=60), HostPool(client, host="there", lease_seconds=60)
    clock, changes = Clock(), []
    threads = PoolThreads(here.running, cores=4, clock=clock, on_change=changes.append)
    before = torch.get_num_threads()
    try:
        assert threads.begin() == 4 == torch.get_num_threads()  # an idle pool: every core
        for job in ("a", "b", "c"):
            elsewhere.started(job)  # another host's jobs run on its cores
        here.started("a")
        clock.now = 0.5
        assert threads.checkpoint() == 4 and threads.reads == 1  # read once a second at most
        clock.now = 1.0
        assert threads.checkpoint() == 3 == torch.get_num_threads() and threads.reads == 2
        for job in ("b", "c", "d", "e"):
            here.started(job)
        clock.now = 2.0
        assert threads.checkpoint() == 1 == torch.get_num_threads()  # 5 jobs on 4 cores: at least 1
        for job in ("a", "b", "c", "d"):
            here.ended(job)
        client.zadd(here.key, {"lapsed": 1.0})  # a pool child killed mid-job: its lease ran out unrenewed
        clock.now = 3.0
        assert threads.checkpoint() == 3 == torch.get_num_threads()
        assert changes == ([] if before == 4 else [4]) + [3, 1, 3]
    finally:
        threads.end()
    assert torch.get_num_threads() == before  # what the process had before the generation
    here.renew(["e", "a"])  # an ended job's lease is not renewed; the lapsed one is dropped
    assert client.zrange(here.key, 0, -1) == [b"e"] and here.running() == 1 and elsewhere.running() == 3
    assert [threads_beside(n, 2) for n in (0, 1, 2, 3)] == [2, 1, 1, 1]
    assert adapts({"TORCH_NUM_THREADS": "auto"}, "cpu") and not adapts({"TORCH_NUM_THREADS": "auto"}, "cuda:0")
    assert not adapts({"TORCH_NUM_THREADS": 2}, "cpu")


def test_without_redis_the_count_stays(private_redis):
    pool = HostPool(redis.Redis(port=private_redis.port, socket_timeout=2), host="here")
    private_redis.stop()
    threads = PoolThreads(pool.running, cores=4)
    before = torch.get_num_threads()
    try:
        assert threads.begin() == before == torch.get_num_threads()
    finally:
        threads.end()


def generate(manager: ModelManager) -> tuple[dict, list[int], list[dict]]:
    """A short greedy generation; torch's threads and the job's `generation` detail at each progress report."""
    threads: list[int] = []
    details: list[dict] = []

    def progress(fraction: float, stage: str) -> None:
        if stage == "generating":
            threads.append(torch.get_num_threads())
            details.append(dict(current_detail() or {}))

    result = manager.generate(GenerateOptions(prompt="Name a string instrument.", max_length=12, temperature=0),
                              progress=progress)
    return result, threads, details


def llm_row(manager: ModelManager) -> dict:
    return next(row for row in manager.status()["models"] if row.get("loaded"))


@pytest.mark.slow
@on_the_cpu
def test_a_generation_takes_the_cores_a_running_pool_job_leaves(settings, private_redis, tmp_path, smollm2_folder):
    cores = usable_cores()
    # run.py's default pool of one process per core: the fixed share was 1 thread, whatever the pool was doing
    model_settings = load_settings({"MODELS_DIR": str(tmp_path / "models"), "SMOLLM2_MODEL_PATH": str(smollm2_folder),
                                    "CPU_CONCURRENCY": str(cores), "DEVICE": "cpu"}, dotenv=False)
    before = torch.get_num_threads()
    published: list[dict] = []
    pool = HostPool(redis.Redis(port=private_redis.port))
    manager = ModelManager(model_settings, pool_jobs=pool.running, publish=published.append)
    manager.load_llm("smollm2-135m")  # first: the job below runs for a generation, not for a load as well
    loaded = torch.get_num_threads()  # the load's count (the fixed share, 1): other models of the process keep it
    # 6 files of 30 s (~7 s of work here) outlast a 12-token generation many times over; it is canceled after it
    # (30 of them had cost 1.4 s of writing 150 MB, never run)
    with job_in_a_pool_child(settings, private_redis.port, tmp_path, name="poolthreads@test", files=6, seconds=30.0,
                             progress=0.0) as run:
        assert pool.running() == 1  # the runner counted it on this host as it started
        result, threads, details = generate(manager)
        assert result["tokens_generated"] > 0
        assert set(threads) == {threads_beside(1, cores)}, threads  # the cores the one pool job leaves
        assert {d.get("cpu_threads") for d in details} == {threads_beside(1, cores)}, details
        assert llm_row(manager)["cpu_threads"] == threads_beside(1, cores)
        assert run.svc.jobs.request_cancel(run.job_id) == "running"
        job = run.svc.jobs.wait_for_state(run.job_id, ("canceled", "succeeded", "failed"), timeout=120)
        assert job is not None and job["state"] == "canceled", job
        assert pool.running() == 0  # the runner took it off as it ended
        result, threads, details = generate(manager)  # the pool idle: every usable core
        assert set(threads) == {cores} and {d.get("cpu_threads") for d in details} == {cores}, (threads, details)
        assert llm_row(manager)["cpu_threads"] == cores
        assert any(row.get("cpu_threads") == cores for s in published for row in s["models"] if row.get("loaded"))
    assert torch.get_num_threads() == loaded == threads_beside(cores, cores)  # between generations
    torch.set_num_threads(before)
