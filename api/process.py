"""POST /process/<kind>/<session_id>: validate the request, enqueue a job, answer 202."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, jsonify, request, url_for

from services import services
from tasks import submit
from worker.errors import AudioError, InvalidRequestError

bp = Blueprint("process", __name__)


def json_body() -> dict:
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object", code="invalid_json")
    return body


def session_file_params(session_id: str, body: dict) -> dict:
    """The `file` option checked against the session: a named upload, or all of them."""
    store = services().store
    store.require(session_id)
    name = body.get("file")
    if name is not None:
        if not isinstance(name, str):
            raise InvalidRequestError("'file' must be a file name", code="invalid_file")
        store.file_path(session_id, name, area="uploads")  # 404 if absent
        return {"file": name}
    if not store.upload_names(session_id):
        raise AudioError(f"session {session_id!r} has no audio files; upload one first", code="no_audio_files")
    return {}


def accepted(job: dict):
    job_id = job["job_id"]
    return jsonify({"job_id": job_id, "status_url": url_for("jobs.get_job", job_id=job_id),
                    "state": job["state"], "type": job["type"]}), 202


@bp.post("/process/features/<session_id>")
def process_features(session_id: str):
    body = json_body()
    params = session_file_params(session_id, body)
    return accepted(submit("features", session_id=session_id, params=params))


@bp.post("/process/pitch/<session_id>")
def process_pitch(session_id: str):
    from worker.music.options import PitchOptions

    body = json_body()
    options = PitchOptions.from_request(body)  # 400 before anything is queued
    params = session_file_params(session_id, body)
    params["include"] = list(options.include)
    return accepted(submit("pitch", session_id=session_id, params=params))


@bp.post("/process/gemma_3n/<session_id>")
def process_gemma_3n(session_id: str):
    from flask import current_app

    from worker.audio_llm_options import Gemma3NOptions, check_weights

    body = json_body()
    options = Gemma3NOptions.from_request(body, default_model=current_app.config["GEMMA_3N_DEFAULT_MODEL"])
    params = session_file_params(session_id, body)
    check_weights(options, current_app.config)  # 409 with how to get them, before queueing
    params.update({k: v for k, v in dataclasses.asdict(options).items() if v is not None})
    return accepted(submit("gemma_3n", session_id=session_id, params=params))
