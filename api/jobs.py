"""Jobs: read, list, cancel."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from jobs import public_view
from services import services
from storage import check_session_id
from worker.errors import ConflictError, InvalidRequestError, NotFoundError

bp = Blueprint("jobs", __name__)


def job_or_404(job_id: str) -> dict:
    job = services().jobs.get(job_id) if job_id.isalnum() and len(job_id) <= 64 else None
    if job is None:
        raise NotFoundError(f"no job {job_id!r}", code="job_not_found")
    return job


@bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    return jsonify(public_view(job_or_404(job_id)))


@bp.get("/jobs")
def list_jobs():
    session_id = request.args.get("session_id")
    if session_id:
        check_session_id(session_id)
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 1000)
    except ValueError as e:
        raise InvalidRequestError("limit must be an integer") from e
    jobs = services().jobs.list(session_id=session_id, limit=limit)
    return jsonify({"jobs": [public_view(j) for j in jobs]})


@bp.delete("/jobs/<job_id>")
def cancel_job(job_id: str):
    job_or_404(job_id)
    prev = services().jobs.request_cancel(job_id)
    if prev is None:
        raise ConflictError(f"job {job_id!r} has already finished", code="job_finished")
    state = "canceled" if prev == "queued" else "cancel_requested"
    return jsonify({"job_id": job_id, "state": state}), 202
