"""/api/v2/models/*: model status, load, unload, generate (the user's existing clients call these).

Status is read from the state the GPU worker publishes to Redis, so it answers in
milliseconds even while a long job runs. load/unload/generate go through the queue
to that worker; the request waits up to `wait` seconds (default SYNC_WAIT_SECONDS)
and answers 200 with the result, or 202 with the job to poll.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request, url_for

from api.process import json_body
from config import MODEL_REGISTRY
from jobs import queue_depth
from services import services
from tasks import MODEL_STATUS_KEY, submit
from worker.errors import InvalidRequestError, ModelNotAvailableError

bp = Blueprint("models", __name__, url_prefix="/api/v2/models")


def _static_status() -> dict:
    from models import registry_status

    return {"current_model": None, "device": None, "models": registry_status(current_app.config),
            "published_by": None}


def current_status() -> dict:
    raw = services().redis.get(MODEL_STATUS_KEY)
    status = json.loads(raw) if raw else _static_status()
    status["queue_depth"] = queue_depth(services().redis, current_app.config["GPU_QUEUE"])
    return status


@bp.get("/status")
def status():
    return jsonify(current_status())


def check_model_type(model_type, *, require_weights: bool = True) -> str:
    if not isinstance(model_type, str) or model_type not in MODEL_REGISTRY:
        raise InvalidRequestError(f"unknown model_type {model_type!r}", code="unknown_model",
                                  details={"valid": sorted(MODEL_REGISTRY)})
    if require_weights:
        from worker.llm_files import is_downloaded, registry_entry, resolve_model_dir

        entry = registry_entry(model_type, MODEL_REGISTRY)
        if not is_downloaded(entry, current_app.config):
            source = resolve_model_dir(entry, current_app.config)
            raise ModelNotAvailableError(
                f"the weights of {model_type} are not present in {source}; get them with "
                f"`python download_models.py {model_type}` (set HF_TOKEN for gated models) or point "
                f"{MODEL_REGISTRY[model_type].get('path_env', 'MODELS_DIR')} at a local copy",
                details={"source": str(source)})
    return model_type


def wait_seconds(body: dict) -> float:
    raw = request.args.get("wait", body.get("wait", current_app.config["SYNC_WAIT_SECONDS"]))
    try:
        wait = float(raw)
    except (TypeError, ValueError) as e:
        raise InvalidRequestError("wait must be a number of seconds") from e
    if not 0 <= wait <= 600:
        raise InvalidRequestError("wait must be between 0 and 600 seconds")
    return wait


def run_and_wait(job_type: str, params: dict, wait: float):
    job = submit(job_type, session_id=None, params=params)
    svc = services()
    done = svc.jobs.wait(job["job_id"], wait, blocking_client=svc.blocking_redis)
    if done and done["state"] == "succeeded":
        return jsonify(done["result"]), 200
    if done and done["state"] == "failed":
        err = done["error"]
        status = {"out_of_memory": 507, "context_length_exceeded": 422, "model_not_downloaded": 409,
                  "invalid_request": 400, "unknown_model": 400}.get(err.get("code"), 500)
        return jsonify({"error": err, "job_id": job["job_id"]}), status
    return jsonify({"job_id": job["job_id"], "status_url": url_for("jobs.get_job", job_id=job["job_id"]),
                    "state": done["state"] if done else "queued"}), 202


@bp.post("/load")
def load():
    body = json_body()
    model_type = check_model_type(body.get("model_type"))
    return run_and_wait("model_load", {"model_type": model_type}, wait_seconds(body))


@bp.post("/unload")
def unload():
    body = json_body()
    return run_and_wait("model_unload", {}, wait_seconds(body))


@bp.post("/generate")
def generate():
    from worker.llm_generate import GenerateOptions

    body = json_body()
    options = GenerateOptions.from_request(body)  # 400 before anything is queued
    if options.model_type is not None:
        check_model_type(options.model_type)
    params = {k: body[k] for k in ("prompt", "messages", "system", "max_length", "max_new_tokens", "temperature",
                                   "top_p", "seed", "model_type") if k in body}
    return run_and_wait("generate", params, wait_seconds(body))
