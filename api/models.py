"""/api/v2/models/*: model status, load, unload, generate (the user's existing clients call these).

Status is read from the state the GPU worker publishes to Redis, so it answers in
milliseconds even while a long job runs. load/unload/generate go through the queue
to that worker; the request waits up to `wait` seconds (default SYNC_WAIT_SECONDS)
and answers 200 with the result, or 202 with the job to poll.
"""

from __future__ import annotations

from collections.abc import Collection

from flask import Blueprint, current_app, jsonify, request, url_for

from api import access
from api.auto_check import auto_choice, live_usable, usable_by
from api.creation import FILELESS_ROUTE_KEYS, create_job
from api.creation import wait_seconds as creation_wait_seconds
from api.process import json_body, options_of
from api.waits import waits
from config import MODEL_REGISTRY
from jobs.gpu_routing import gpu_workers
from jobs.services import services
from jobs.submit import submit
from jobs.workers import queue_depth
from worker.errors import InvalidRequestError, ModelNotAvailableError
from worker.llm.choice import AUTO, PREFERENCES
from worker.llm.options import GenerateOptions, ModelLoadOptions, count_parts
from worker.llm.status import registry_status
from worker.llm.weights import is_downloaded, registry_entry, resolve_model_dir
from worker.options import JobOptions, NoOptions

bp = Blueprint("models", __name__, url_prefix="/api/v2/models")


# where a model's weights live on the server: an admin's business (they put them there), nobody else's
SERVER_PATH_FIELDS = ("source", "gguf_source")
# how long a model or ask route may wait for its job (`wait`); the front's read timeout for them is above it
MODEL_WAIT_MAX_SECONDS = 600.0


def current_status() -> dict:
    svc = services()
    # the workers of this service's GPU queue, as `gpu_workers` below: another's on the same Redis holds its own models
    status = svc.model_status.read(current_app.config["GPU_QUEUE"]) or {
        "current_model": None, "device": None, "published_by": None, "models": registry_status(current_app.config)}
    status["queue_depth"] = queue_depth(svc.redis, current_app.config["GPU_QUEUE"])
    downloaded: dict[str, bool] = {}  # each model's files looked at once, for `auto` and the rows' `present`
    workers = gpu_workers(svc, current_app.config["GPU_QUEUE"])
    status["auto"] = auto_choices(downloaded, usable=usable_by(workers))
    for row in status["models"]:
        row["present"] = weights_here(row.get("model_type"), downloaded)
    # each live GPU worker's resident model and the models it can load (jobs/gpu_routing.py); its name to admins only
    status["gpu_workers"] = [{"worker": w.node, "current_model": w.resident, "models_usable": sorted(w.usable)}
                             for w in workers]
    if not access.caller().admin:
        for worker in status["gpu_workers"]:
            worker["worker"] = None
        for row in status["models"]:
            row.update(dict.fromkeys(SERVER_PATH_FIELDS))
        # the worker's handle names its host and pid, shown to admins only (as the probe's worker and pid are)
        status["published_by"] = None
    return status


def weights_here(model_type: object, downloaded: dict[str, bool]) -> bool | None:
    """Whether this API finds `model_type`'s weights, as require_weights checks them before queueing a job that names
    it (false: those routes refuse it, 409); None for a model it does not register. The rows' `downloaded` is the
    publishing worker's view: a stranger's `ma analyze --llm-model NAME` on a server without NAME's weights uploaded
    the file, then was refused; the CLI asks here first."""
    if not isinstance(model_type, str) or model_type not in MODEL_REGISTRY:
        return None
    if model_type not in downloaded:
        downloaded[model_type] = is_downloaded(registry_entry(model_type, MODEL_REGISTRY), current_app.config)
    return downloaded[model_type]


def auto_choices(downloaded: dict[str, bool] | None = None, *, usable: Collection[str] | None = None
                 ) -> dict[str, dict[str, str | None]]:
    """Per task, what `auto` picks here now as the routes' own check of it does before queueing (weights on this
    server, else a model a live GPU worker can load: `usable`, theirs, read here when None; no image asked for; the
    worker, knowing its device's memory, may pass over one more): `{"model", "reason"}`, `model` null where no model
    qualifies, which those routes refuse (409), and `reason` then why each was passed over here. A stranger's `ma
    analyze --llm analyze` on a server without an LLM had uploaded the file, then been refused; the CLI asks here
    first (and an API host without weights beside a GPU worker that had them was said to have none)."""
    out: dict[str, dict[str, str | None]] = {}
    downloaded = {} if downloaded is None else downloaded  # each model's files looked at once, not once per task
    usable = live_usable() if usable is None else usable  # read once: the routes accept `auto` where they can run it
    for task in PREFERENCES:
        try:
            choice = auto_choice(task, downloaded=downloaded, usable=usable)
        except ModelNotAvailableError as e:
            out[task] = {"model": None, "reason": e.message}
            continue
        out[task] = {"model": choice.model_type, "reason": choice.reason}
    return out


@bp.get("/status")
def status():
    return jsonify(current_status())


def require_weights(model_type: str, *, auto: bool = True) -> None:
    """409 saying how to get the weights when `model_type` (a registered LLM) has none locally."""
    entry = registry_entry(model_type, MODEL_REGISTRY)
    if not is_downloaded(entry, current_app.config):
        # and the models it has: a user who cannot download had been told only an administrator's command
        present = [m for m in sorted(MODEL_REGISTRY) if m != model_type
                   and is_downloaded(registry_entry(m, MODEL_REGISTRY), current_app.config)]
        instead = (f"; this server has the weights of {', '.join(present)}: name one as model_type"
                   + (", or \"auto\" for the best model it has" if auto else "")) if present else ""
        if not access.caller().admin:  # the server's folders are named to admins only
            raise ModelNotAvailableError(
                f"the weights of {model_type} are not on this server; an administrator can get them with "
                f"`python download_models.py {model_type}`{instead}", details={"available": present})
        source = resolve_model_dir(entry, current_app.config)
        raise ModelNotAvailableError(
            f"the weights of {model_type} are not present in {source}; get them with "
            f"`python download_models.py {model_type}` (set HF_TOKEN for gated models) or point "
            f"{MODEL_REGISTRY[model_type].get('path_env', 'MODELS_DIR')} at a local copy{instead}",
            details={"source": str(source), "available": present})


def wait_seconds(body: dict) -> float:
    """The `wait` of a model or ask route (body or query; default SYNC_WAIT_SECONDS), 0-MODEL_WAIT_MAX_SECONDS."""
    raw = request.args.get("wait", body.get("wait", current_app.config["SYNC_WAIT_SECONDS"]))
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InvalidRequestError("wait must be a number of seconds", code="invalid_wait")
    return creation_wait_seconds(raw, limit=MODEL_WAIT_MAX_SECONDS)


def run_and_wait(job_type: str, options: JobOptions, body: dict, *, owner: str | None = None,
                 answer: tuple[dict, str] | None = None, asked_by: str | None = None, to_node: str | None = None,
                 also: list[dict] | None = None):
    """The model routes' answer: 200 with the result (and `job_id`) if the job ends within `wait` (body or query,
    default SYNC_WAIT_SECONDS), the error's own status if it fails, else 202 with the job to follow. `answer`: the
    request has answered it (create_job): 200 with it, whatever the wait; `asked_by`: the caller, when acting for
    `owner` (create_job); `to_node`: the GPU worker it goes to; `also`: more jobs of the request (an unload of each
    holder's model), waited for too and listed in `unloads`."""
    wait = wait_seconds(body)
    job = create_job(job_type, owner=owner or access.caller().name, session_id=None, options=options, body=body,
                     answer=answer, asked_by=asked_by, to_node=to_node)
    svc = services()
    with waits().share(access.caller().name) as may_wait:
        # past the caller's share of this process the 202 comes at once, as when the job outlasts the wait
        done = svc.jobs.wait(job["job_id"], wait) if may_wait else svc.jobs.get(job["job_id"])
        ended = [svc.jobs.wait(j["job_id"], wait) if may_wait else svc.jobs.get(j["job_id"]) for j in also or []]
    if done and done["state"] == "succeeded":
        # with its job's id, as the 202 and the failure have it: a client found the job in GET /jobs by guessing;
        # and, to an admin, the GPU worker that ran it (`gpu@host`), as GET /jobs/<id> names it
        result = done["result"]
        if not isinstance(result, dict):
            return jsonify(result), 200
        extra = {"unloads": [_ran(j) for j in [done, *ended] if j]} if also is not None else {}
        return jsonify({**result, "job_id": job["job_id"], "worker": _node(done), **extra}), 200
    if done and done["state"] == "failed":
        # the status the error's class carries, recorded with the job by the worker; a generation stopped by its
        # time limit, with the text it had written (`finish_reason` time_limit), as its record has it
        kept = {"result": done["result"]} if isinstance(done.get("result"), dict) else {}
        return jsonify({"error": done["error"], "job_id": job["job_id"], **kept}), done.get("error_status") or 500
    return jsonify({"job_id": job["job_id"], "status_url": url_for("jobs.get_job", job_id=job["job_id"]),
                    "state": done["state"] if done else "queued"}), 202


def _node(job: dict) -> str | None:
    return str(job.get("worker") or "").split("#", 1)[0] or None if access.caller().admin else None


def _ran(job: dict) -> dict:
    """One unload of the request: its job, state, the model it unloaded, its worker (to admins)."""
    result = job.get("result") if isinstance(job.get("result"), dict) else {}
    return {"job_id": job["job_id"], "state": job["state"], "unloaded": (result or {}).get("unloaded"),
            "worker": _node(job)}


@bp.post("/load")
def load():
    body = json_body()
    options = options_of(ModelLoadOptions, body, route_keys=FILELESS_ROUTE_KEYS, wait_limit=MODEL_WAIT_MAX_SECONDS)
    require_weights(str(options.model_type), auto=False)  # a load names its model: "auto" is not one
    return run_and_wait("model_load", options, body)


@bp.post("/unload")
def unload():
    body = json_body()
    options = options_of(NoOptions, body, route_keys=FILELESS_ROUTE_KEYS, wait_limit=MODEL_WAIT_MAX_SECONDS)
    # with several GPU workers, each one holding a model unloads it: one job each (jobs/gpu_routing.py)
    workers = gpu_workers(services(), current_app.config["GPU_QUEUE"])
    holders = [w.node for w in workers if w.resident] if len(workers) > 1 else []
    if len(holders) < 2:
        return run_and_wait("model_unload", options, body)
    also = [submit("model_unload", owner=access.caller().name, session_id=None, options=options, to_node=node)
            for node in holders[1:]]
    return run_and_wait("model_unload", options, body, to_node=holders[0], also=also)


@bp.post("/generate")
def generate():
    body = json_body()
    # 400 before anything is queued
    options = options_of(GenerateOptions, body, route_keys=FILELESS_ROUTE_KEYS, wait_limit=MODEL_WAIT_MAX_SECONDS)
    conversation = options.conversation()
    media = {kind: count_parts(conversation, kind) for kind in ("audio", "image")}
    if any(media.values()):
        # this route sends no audio or image with the messages: such a part had been queued, had the model
        # loaded (replacing another user's), and then failed
        named = " and ".join(f"{n} {kind} part(s)" for kind, n in media.items() if n)
        raise InvalidRequestError(f"the messages hold {named}, but generate takes text only: audio goes through "
                                  "POST /process/gemma_3n/<session_id> with a file", code="invalid_request",
                                  details=media)
    if options.model_type == AUTO:  # 409 now if no model qualifies here or on a live GPU worker (auto_check.py)
        auto_choice("generate")
    elif options.model_type is not None:
        require_weights(options.model_type)
    return run_and_wait("generate", options, body)


