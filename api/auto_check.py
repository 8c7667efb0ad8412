"""The API's check of `auto` before it queues a job: the host's weights, else the live GPU workers'.

A GPU worker resolves `auto` by the models it can load itself (choice.choose_here), and the API routes an `auto` job
to one that can load the first model of the task's order that any live GPU worker can (jobs/gpu_routing.py). So the
API host needs no weights of its own for `auto`: an API on a machine without a GPU (and without MODELS_DIR) had
refused every `auto` job with 409 while a live GPU worker's heartbeat listed a model it could run. It still refuses
(409, `model_not_downloaded`, the host's reasons) when neither this host nor any live GPU worker of this service's
GPU queue can load a model of the task's order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from flask import current_app

from config import MODEL_REGISTRY
from jobs.gpu_routing import GpuWorker, gpu_workers
from jobs.services import services
from worker.errors import ModelNotAvailableError
from worker.llm.choice import Choice, choose_model


def live_usable() -> frozenset[str]:
    """The models the live GPU workers of this service's GPU queue can load (their heartbeats' `models_usable`)."""
    return usable_by(gpu_workers(services(), current_app.config["GPU_QUEUE"]))


def usable_by(workers: Iterable[GpuWorker]) -> frozenset[str]:
    """The models any of `workers` can load (for a caller that read the workers already)."""
    return frozenset().union(*(w.usable for w in workers))


def auto_choice(task: str, *, needs: Sequence[str] = (), downloaded: dict[str, bool] | None = None,
                usable: Collection[str] | None = None) -> Choice:
    """What `auto` picks for `task`: the first model of its order with its weights on this host, else the first a
    live GPU worker can load (`usable`: theirs, read here when None). ModelNotAvailableError, with the host's
    reasons, when none can. `downloaded`: this host's weights as far as looked at (choose_model's)."""
    settings = current_app.config
    try:
        return choose_model(task, needs=needs, settings=settings, registry=MODEL_REGISTRY, device_memory_bytes=None,
                            downloaded=downloaded)
    except ModelNotAvailableError as here:
        refused = here
    usable = live_usable() if usable is None else usable
    if not usable:
        raise refused
    try:
        there = choose_model(task, needs=needs, settings=settings, registry=MODEL_REGISTRY, device_memory_bytes=None,
                             downloaded={m: m in usable for m in MODEL_REGISTRY})
    except ModelNotAvailableError:
        raise refused from None
    return Choice(there.model_type, f"{there.model_type} for {task}, on a live GPU worker that can load it (this "
                                    "server has none of the task's models)")
