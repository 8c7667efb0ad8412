"""Creating a job from a request, the same way for every job-creating route.

The body's own keys besides the options: `webhook` and `webhook_events_filter` (jobs/webhooks.py); the
headers: `Idempotency-Key` (the same key from the same user names the same job for a day,
jobs/idempotency.py) and, on the /process routes, `Prefer: wait=N` (RFC 7240: answer 200 with the
finished job if it ends within N seconds, else 202 as without it).
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, jsonify, request, url_for

from api import access
from api.disk_room import room_for_job
from api.quota import job_audio_seconds, job_output_estimate, quota_lock, require_quota
from api.waits import waits
from jobs import webhooks
from jobs.idempotency import fingerprint
from jobs.method import job_method
from jobs.record import TERMINAL_STATES, public_view
from jobs.services import services
from jobs.submit import submit, submit_answered, submit_cached
from worker.errors import InvalidRequestError
from worker.options import JobOptions

ROUTE_KEYS = ("file", "files", "wait", "webhook", "webhook_events_filter")  # body keys that are not options
# the routes that read no session file (models, library): `file` there was accepted and ignored (a stranger's)
FILELESS_ROUTE_KEYS = tuple(k for k in ROUTE_KEYS if k not in ("file", "files"))
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*([0-9]+(?:\.[0-9]+)?)", re.I)


def create_job(job_type: str, *, owner: str, session_id: str | None, options: JobOptions, body: dict[str, Any],
               files: list[str] | None = None, batch: bool = False, queue: str | None = None,
               answer: tuple[dict[str, Any], str] | None = None, asked_by: str | None = None,
               to_node: str | None = None) -> dict:
    """The job this request makes: a new one, or the one its Idempotency-Key already names. `answer` (the result,
    how it was found): the request has answered it, and the job is recorded finished (jobs/submit.py). `asked_by`: the
    caller, when an admin acts for `owner` (a fileless job's worker says so: jobs/submit.py)."""
    svc = services()
    hook = webhooks.parse_request(body, current_app.config)
    asked_wait()  # a bad `wait` is a 400 before anything is queued
    key = request.headers.get("Idempotency-Key")
    claim = None
    if key is not None:
        by = access.caller().name
        print_ = fingerprint(request.method, request.path, body)
        claim = svc.idempotency.claim(owner=owner, key=key, request_fingerprint=print_, caller=by,
                                      method=request.method, path=request.path)
        known = svc.jobs.get(claim.job_id) if claim.job_id else None
        if known is not None:
            return known
        if claim.job_id:  # the key outlived its job's record: start afresh
            svc.idempotency.release(claim)
            claim = svc.idempotency.claim(owner=owner, key=key, request_fingerprint=print_, caller=by,
                                          method=request.method, path=request.path)
    try:
        if answer is not None:
            job = submit_answered(job_type, owner=owner, options=options, result=answer[0], stage=answer[1],
                                  webhook=hook)
        elif session_id is None:
            job = submit(job_type, owner=owner, session_id=None, options=options, files=files, batch=batch,
                         queue=queue, webhook=hook, asked_by=asked_by, to_node=to_node)
        else:  # a session's job writes results: what it will write must fit in the owner's quota (api/quota.py)
            store = svc.sessions.of(owner)
            estimate = job_output_estimate(store, session_id, job_type, options, files or [])
            audio = job_audio_seconds(store, session_id, files or [])
            # ... and on the data disk, beside what the jobs accepted before it will write (api/disk_room.py)
            with room_for_job(estimate), quota_lock(owner):
                require_quota(store, job_bytes=estimate)
                job = submit_cached(job_type, owner=owner, session_id=session_id, options=options,
                                    files=files or [], batch=batch, webhook=hook) or \
                    submit(job_type, owner=owner, session_id=session_id, options=options, files=files, batch=batch,
                           queue=queue, webhook=hook, output_estimate=estimate, audio_seconds=audio)
    except BaseException:
        if claim is not None:
            svc.idempotency.release(claim)
        raise
    if claim is not None:
        svc.idempotency.remember(claim, job["job_id"])
    return job


def prefer_wait() -> float | None:
    """Seconds of a `Prefer: wait=N` header (capped by JOB_WAIT_MAX_SECONDS), or None."""
    found = _PREFER_WAIT.search(request.headers.get("Prefer", ""))
    if found is None:
        return None
    return min(float(found.group(1)), float(current_app.config["JOB_WAIT_MAX_SECONDS"]))


def wait_argument() -> float:
    """`?wait=N` of GET /jobs/<id>: seconds to wait for the job to finish, capped by JOB_WAIT_MAX_SECONDS."""
    raw = request.args.get("wait")
    return 0.0 if raw is None else wait_seconds(raw)


def asked_wait(*, limit: float | None = None) -> float | None:
    """A JSON body's `wait` (or `?wait=`) on a /process route: as `Prefer: wait=N` (a stranger's -5 and 1e309,
    in the body and in the query, were ignored). `limit`: see wait_seconds."""
    body = request.get_json(silent=True) if request.is_json else None
    raw = body.get("wait") if isinstance(body, dict) else None
    if raw is None:
        raw = request.args.get("wait")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InvalidRequestError("wait must be a number of seconds", code="invalid_wait")
    return wait_seconds(raw, limit=limit)


def wait_seconds(raw: float | str, *, limit: float | None = None) -> float:
    """Seconds to wait, 0-3600 (nan and infinity refused), cut to JOB_WAIT_MAX_SECONDS; with `limit` (the model
    and ask routes, which wait for their job themselves), 0-limit and not cut (a stranger's -1 there was told
    "0 to 3600, cut to 60 s" and 700 "0 to 600" under another code)."""
    try:
        wait = float(raw)
    except ValueError as e:
        raise InvalidRequestError("wait must be a number of seconds", code="invalid_wait") from e
    if limit is not None:
        if not 0 <= wait <= limit:
            raise InvalidRequestError(f"wait must be between 0 and {limit:g} seconds", code="invalid_wait")
        return wait
    if not 0 <= wait <= 3600:
        raise InvalidRequestError("wait must be between 0 and 3600 seconds (a wait is cut to JOB_WAIT_MAX_SECONDS, "
                                  f"{float(current_app.config['JOB_WAIT_MAX_SECONDS']):g} s here; "
                                  "ask again to wait longer)", code="invalid_wait")
    return min(wait, float(current_app.config["JOB_WAIT_MAX_SECONDS"]))


def answer(job: dict):
    """202 with where to follow the job; with `Prefer: wait=N` (or the body's `wait`), 200 and the finished job
    if it ends in time."""
    preferred = prefer_wait()
    in_body = asked_wait()
    wait = in_body if in_body is not None else preferred
    if wait:
        with waits().share(access.caller().name) as may_wait:
            # past the caller's share of this process the 202 comes at once, as when the job outlasts the wait
            done = services().jobs.wait(job["job_id"], wait) if may_wait else None
        if done is not None and done["state"] in TERMINAL_STATES:
            response = jsonify(public_view(done))
            if in_body is None:
                response.headers["Preference-Applied"] = f"wait={wait:g}"
            return response, 200
        job = done or job
    job_id = job["job_id"]
    # the files it reads, as the job's record names them: a page listing the answer (a cached job is already
    # succeeded, never followed) had a row without its file
    accepted = {"job_id": job_id, "status_url": url_for("jobs.get_job", job_id=job_id), "state": job["state"],
                "type": job["type"], "method": job_method(job),
                "input_files": list((job.get("params") or {}).get("files") or []), "queue": job.get("queue")}
    if "eta" in (view := public_view(job)):  # when it may start and end (jobs/estimates.py), as GET /jobs/<id>
        accepted["eta"] = view["eta"]
    return jsonify(services().queue_positions.add_to([accepted])[0]), 202
