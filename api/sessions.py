"""Sessions: create, upload, list, download, delete."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, jsonify, request, send_file

from api.uploads import discard_spool, save_uploads, upload_info
from config import AUDIO_FILE_TYPES
from jobs.services import services
from jobs.store import public_view
from storage import check_session_id
from worker.errors import ConflictError

bp = Blueprint("sessions", __name__)


@bp.post("/sessions")
def create_session():
    body = request.get_json(silent=True) or {}
    session_id = check_session_id(body.get("session_id") or uuid.uuid4().hex[:16])
    svc = services()
    if svc.store.exists(session_id):
        raise ConflictError(f"session {session_id!r} already exists", code="session_exists")
    svc.store.create(session_id)
    return jsonify({"session_id": session_id}), 201


@bp.post("/sessions/<session_id>/files")
def upload_files(session_id: str):
    check_session_id(session_id)
    try:
        saved = save_uploads(services().store, session_id, request.files.getlist("file"),
                             allowed=set(AUDIO_FILE_TYPES),
                             max_duration=float(current_app.config["MAX_DURATION_SECONDS"]))
    finally:
        discard_spool()
    return jsonify({"session_id": session_id, "files": saved}), 201


@bp.get("/sessions/<session_id>")
def get_session(session_id: str):
    svc = services()
    svc.store.require(session_id)
    uploads = [{**f, **upload_info(svc.store, session_id, f["name"])}
               for f in svc.store.list_files(session_id, "uploads")]
    return jsonify({
        "session_id": session_id,
        "files": uploads,
        "results": svc.store.list_files(session_id, "results"),
        "jobs": [public_view(j) for j in svc.jobs.list_jobs(session_id=session_id)],
    })


@bp.get("/sessions/<session_id>/files/<name>")
def download_file(session_id: str, name: str):
    area = request.args.get("area")
    if area not in (None, "uploads", "results"):
        area = None
    path = services().store.file_path(session_id, name, area=area)
    # a download unless the client asks to show it inline (a player, an image tag); the CSP is set for both
    return send_file(path, download_name=name, as_attachment=request.args.get("inline") != "1")


@bp.delete("/sessions/<session_id>")
def delete_session(session_id: str):
    svc = services()
    svc.store.require(session_id)
    active = svc.jobs.active_jobs(session_id)
    if active:
        raise ConflictError(
            f"session {session_id!r} has {len(active)} queued or running job(s); cancel them first",
            code="session_busy", details={"jobs": [j["job_id"] for j in active]})
    svc.store.delete(session_id)
    svc.jobs.forget_session(session_id)
    return jsonify({"session_id": session_id, "deleted": True})
