"""A running job whose GPU worker died, sent again where it can run: the real heartbeats of
tests/test_gpu_routing_decisions.py (`WorkerRuntime.beat`, the real model status board, a Redis and a GPU queue of
the test's own), the real recovery pass of a live worker (`recover_orphans`, then `reroute_stranded`), no worker
process. A live GPU worker without the weights of the job's model must never get it: it would take it and fail it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ADMIN, ADMIN_PASSWORD, Client, serving
from tests.test_gpu_routing_decisions import Fleet, phi_models, phi_resident, unmakeable  # noqa: F401 (fixtures)

PHI = {"prompt": "hi", "model_type": "phi-4-reasoning", "wait": 0}


@pytest.fixture
def fleet(settings, tmp_path, private_redis) -> Iterator[Fleet]:
    """The test's API and heartbeats on a Redis of its own: the recovery pass of the session's real workers (every
    few seconds, over every running job of their Redis) took the dead holder's job before the pass under test in one
    CI run, whose recover_orphans then found nothing to do."""
    made = Fleet({**settings, "REDIS_URL": f"redis://127.0.0.1:{private_redis.port}/0"}, tmp_path)
    yield made
    made.stop()


def running_on_holder(api, holder) -> str:
    """A generate job for Phi-4-reasoning sent to `holder` (which holds it resident), taken and started there; then
    `holder` dies (its heartbeat gone). Its id."""
    from jobs import keys
    from jobs.gpu_routing import routed_node

    svc = api.extensions["music_analyzer"]
    with serving(api) as base:
        made = Client(base, (ADMIN, ADMIN_PASSWORD)).post("/api/v2/models/generate", json=PHI)
    assert made.status_code == 202, made.text
    job_id = made.json()["job_id"]
    assert routed_node(svc, job_id) == holder.node
    svc.redis.delete(*keys.queue_lists(holder.queue))  # its message taken by the holder, which starts the job
    assert svc.jobs.start(job_id, worker=holder.identity, max_attempts=3) == "run"
    svc.workers.remove(holder.identity)  # killed mid-job: its heartbeat gone
    return job_id


def test_a_running_job_goes_to_the_live_worker_that_can_load_its_model(fleet, phi_models, phi_resident,  # noqa: F811
                                                                        tmp_path):
    """The holder of Phi-4-reasoning died mid-job; a worker without any weights recovers the job: it goes to the own
    queue of the one live worker that can load Phi-4-reasoning, not to the shared queue the other would take it from
    (and fail it, "the weights of phi-4-reasoning are not present")."""
    from jobs.gpu_routing import routed_node
    from jobs.workers import queue_depth

    api = fleet.app(phi_models)
    holder = fleet.worker("holder", phi_models, holding=phi_resident)
    able = fleet.worker("able", phi_models)
    empty = fleet.worker("empty", unmakeable(tmp_path))
    svc, gpu_queue = api.extensions["music_analyzer"], fleet.base["GPU_QUEUE"]
    job_id = running_on_holder(api, holder)
    assert job_id in empty.runtime.recover_orphans()
    depths = {q: queue_depth(svc.redis, q) for q in (gpu_queue, able.queue, empty.queue, holder.queue)}
    assert depths == {gpu_queue: 0, able.queue: 1, empty.queue: 0, holder.queue: 0}, depths
    assert routed_node(svc, job_id) == able.node
    job = svc.jobs.get(job_id)
    assert (job["state"], job["attempts"]) == ("queued", 1), job


def test_a_running_job_no_live_worker_can_run_waits_for_one_that_can(fleet, phi_models, phi_resident,  # noqa: F811
                                                                     tmp_path):
    """The only live worker left can load SmolLM2 alone: the running Phi-4-reasoning job waits in the dead holder's
    own queue (as a queued job sent there would), not in the shared queue that worker takes from; once a worker that
    can load it beats, the next recovery pass sends it there."""
    from jobs.gpu_routing import routed_node
    from jobs.workers import queue_depth

    api = fleet.app(phi_models)
    holder = fleet.worker("holder", phi_models, holding=phi_resident)
    small = fleet.worker("small", tmp_path / "models-small")  # SmolLM2's GGUF converts into it; no Phi-4-reasoning
    svc, gpu_queue = api.extensions["music_analyzer"], fleet.base["GPU_QUEUE"]
    job_id = running_on_holder(api, holder)
    assert job_id in small.runtime.recover_orphans()
    depths = {q: queue_depth(svc.redis, q) for q in (gpu_queue, small.queue, holder.queue)}
    assert depths == {gpu_queue: 0, small.queue: 0, holder.queue: 1}, depths
    assert routed_node(svc, job_id) == holder.node
    assert job_id not in small.runtime.reroute_stranded()  # nobody live can run it yet: it stays
    later = fleet.worker("later", phi_models)
    assert job_id in small.runtime.reroute_stranded()
    assert (queue_depth(svc.redis, later.queue), queue_depth(svc.redis, gpu_queue)) == (1, 0)
    assert routed_node(svc, job_id) == later.node
