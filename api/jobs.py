"""Jobs: read, list, cancel. A caller reaches their own jobs; an admin everyone's (api/access.py)."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, request

from api import access
from jobs.services import services
from jobs.store import public_view
from jobs.submit import submit
from storage import check_session_id
from worker.errors import ConflictError, InvalidRequestError
from worker.options import NoOptions

bp = Blueprint("jobs", __name__)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    return jsonify(public_view(access.job(job_id)))


@bp.get("/jobs")
def list_jobs():
    session_id = request.args.get("session_id") or None
    if session_id:
        check_session_id(session_id)
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 1000)
    except ValueError as e:
        raise InvalidRequestError("limit must be an integer") from e
    jobs = services().jobs.list_jobs(owner=access.listing_owner(session_id), session_id=session_id, limit=limit)
    return jsonify({"jobs": [public_view(j) for j in jobs]})


@bp.post("/jobs/probe")
def probe():
    """Run a no-op job on a queue and report the round trip: is a worker really serving it?"""
    body = request.get_json(silent=True) or {}
    queue = body.get("queue", "cpu")
    queues = {"cpu": current_app.config["CPU_QUEUE"], "gpu": current_app.config["GPU_QUEUE"]}
    if queue not in queues:
        raise InvalidRequestError("queue must be 'cpu' or 'gpu'", details={"valid": sorted(queues)})
    wait = body.get("wait", 5)
    if not isinstance(wait, int | float) or not 0 < wait <= 60:
        raise InvalidRequestError("wait must be a number of seconds in (0, 60]")
    svc = services()
    t0 = time.perf_counter()
    job = submit("probe", owner=access.caller().name, session_id=None, options=NoOptions(), queue=queues[queue])
    done = svc.jobs.wait(job["job_id"], float(wait), blocking_client=svc.blocking_redis)
    elapsed_ms = (time.perf_counter() - t0) * 1000
    if done is None or done["state"] != "succeeded":
        svc.jobs.request_cancel(job["job_id"])  # never let a stale probe run later
        return jsonify({"queue": queue, "ok": False, "job_id": job["job_id"],
                        "message": f"no worker answered on the {queue} queue within {wait} s"}), 504
    return jsonify({"queue": queue, "ok": True, "round_trip_ms": round(elapsed_ms, 2), "job_id": job["job_id"],
                    **done["result"]})


@bp.delete("/jobs/<job_id>")
def cancel_job(job_id: str):
    access.job(job_id)  # 404 for another user's job, before anything changes
    svc = services()
    prev = svc.jobs.request_cancel(job_id, is_alive=svc.workers.is_alive)
    if prev is None:
        raise ConflictError(f"job {job_id!r} has already finished", code="job_finished")
    state = "cancel_requested" if prev == "running" else "canceled"  # queued, or its worker is gone
    return jsonify({"job_id": job_id, "state": state}), 202
