"""Jobs: read, list, cancel. A caller reaches their own jobs; an admin everyone's (api/access.py)."""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time
from datetime import datetime
from typing import ClassVar

from flask import Blueprint, current_app, jsonify, request

from api import access
from api.context import known_keys, known_params, page_limit
from api.creation import wait_argument
from api.process import json_body
from api.waits import TooManyWaitsError, waits
from jobs.listing import JobFilter, check_states, check_types, page_jobs
from jobs.record import ADMIN_CANCELER, TERMINAL_STATES, public_view
from jobs.services import services
from jobs.submit import submit
from jobs.webhook_requests import parse_request
from jobs.webhooks import user_secret_text
from storage import check_session_id
from worker.errors import ConflictError, InvalidRequestError
from worker.options import JobOptions, NoOptions, option

bp = Blueprint("jobs", __name__)
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ProbeRequest(JobOptions):
    """The body of POST /jobs/probe (the probe job itself takes no options). Declared like job options so the
    route validates it and the OpenAPI description shows it from one declaration."""

    WHAT: ClassVar[str] = "probe"

    queue: str = option("cpu", "The kind of queue a worker should be serving.", choices=("cpu", "gpu"))
    wait: float = option(5.0, "Seconds to wait for a worker to run the no-op job.", minimum=0, maximum=60,
                         exclusive_minimum=True)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str):
    """The job; with `?wait=N` (long poll) the answer waits up to N seconds for it to finish."""
    job = access.job(job_id)
    wait = wait_argument()
    if wait > 0 and job["state"] not in TERMINAL_STATES:
        with waits().share(access.caller().name) as may_wait:
            if may_wait:  # past the caller's share of this process the record comes at once (api/waits.py)
                job = services().jobs.wait(job_id, wait) or job
    return jsonify(services().queue_positions.add_to([operator_view(job)])[0])


def operator_view(job: dict) -> dict:
    """The public record, plus for an admin the worker that runs or ran the job (`cpu@host`): which machine
    to look at when a job of a server with workers on several machines failed or hangs. Others do not learn the
    service's hosts (as a probe's `worker`)."""
    view = public_view(job)
    if access.caller().admin:
        view["worker"] = str(job.get("worker") or "").split("#", 1)[0] or None
    return view


@bp.get("/jobs/<job_id>/webhooks")
def job_webhooks(job_id: str):
    """The job's webhook deliveries: event, URL, state, attempts and the status code of each attempt."""
    access.job(job_id)
    queue = services().jobs.webhooks
    return jsonify({"job_id": job_id, "deliveries": queue.history(job_id) if queue is not None else []})


@bp.get("/webhooks/secret")
def webhook_secret():
    """The caller's own webhook key (an admin's `?owner=` names another user's): every delivery of their jobs is
    signed with it too, so a receiver verifying with it takes no delivery another user could have signed."""
    known_params(frozenset({"owner"}))
    owner = access.acting_owner()
    response = jsonify({"user": owner, "secret": user_secret_text(current_app.config, owner)})
    response.headers["Cache-Control"] = "no-store"  # a key: not for a shared cache, nor for the browser's
    return response


WEBHOOK_CHECK_KEYS = frozenset({"webhook", "webhook_events_filter"})


@bp.post("/webhooks/check")
def check_webhook():
    """Whether a job-creating request would take this `webhook` (and `webhook_events_filter`): the same checks, 400
    as that request would answer, before anything is uploaded (a CLI run had uploaded its files, then had every
    job refused for its webhook). Nothing is sent to the URL."""
    known_params(frozenset())
    body = json_body()
    known_keys(body, WEBHOOK_CHECK_KEYS, "POST /webhooks/check")
    hook = parse_request(body, current_app.config)
    if hook is None:  # no `webhook` (or null): nothing to check; it had said "webhook must be an http(s) URL"
        raise InvalidRequestError('the body names no webhook to check: {"webhook": "https://host/path"}',
                                  code="invalid_webhook")
    return jsonify({"webhook": hook.url, "events": list(hook.events)})


JOB_LIST_PARAMS = frozenset({"session_id", "type", "state", "since", "limit", "cursor", "owner"})


@bp.get("/jobs")
def list_jobs():
    """The caller's jobs newest first, a page at a time (`limit`, `cursor` -> `next_cursor`), filtered by
    `session_id`, `type`, `state` (comma lists) and `since` (ISO 8601 or Unix seconds)."""
    args = request.args
    known_params(JOB_LIST_PARAMS)  # a misspelt filter (`?typ=pitch`) had listed every job
    # given, it is checked even empty: `?session_id=` (an unset variable in a client's URL) had listed every job
    session_id = check_session_id(args["session_id"]) if "session_id" in args else None
    where = JobFilter(types=check_types(_list_arg("type")), states=check_states(_list_arg("state")),
                      since=_time_arg("since"))
    page = page_jobs(services().jobs, owner=access.listing_owner(session_id), session_id=session_id,
                     limit=page_limit(100, 1000), cursor=args.get("cursor") or None, where=where)
    views = services().queue_positions.add_to([operator_view(j) for j in page.jobs])
    return jsonify({"jobs": views, "next_cursor": page.next_cursor})


def _list_arg(name: str) -> list[str]:
    return [v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]


def _time_arg(name: str) -> float | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:  # nan or inf would reach Redis as a score it refuses (and read as an outage)
        if not math.isfinite(seconds):
            raise InvalidRequestError(f"{name} must be ISO 8601 or Unix seconds, a finite number",
                                      code="invalid_filter")
        return seconds
    text = raw.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        pass
    # a `+` left unescaped in a query is a space: `since=2026-12-06T11:50:00+01:00` pasted into a URL arrives as
    # "...11:50:00 01:00", which had been 400 "must be ISO 8601" for the ISO 8601 time the user wrote
    offset = _SPACED_OFFSET.match(text)
    if offset:
        try:
            return datetime.fromisoformat(f"{offset[1]}+{offset[2]}").timestamp()
        except ValueError:
            pass
    raise InvalidRequestError(f"{name} must be ISO 8601 or Unix seconds (2026-12-06T11:50:00Z, a '+' of an offset "
                              f"written %2B in a URL, or 1796557800)", code="invalid_filter")


_SPACED_OFFSET = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ][\d:.,]+) (\d{2}(?::?\d{2})?)$")


@bp.post("/jobs/probe")
def probe():
    """Run a no-op job on a queue and report the round trip: is a worker really serving it?"""
    # a JSON object or nothing (415 for another body, as on every route taking options)
    asked = ProbeRequest.from_request(json_body())
    queue, wait = asked.queue, asked.wait
    queues = {"cpu": current_app.config["CPU_QUEUE"], "gpu": current_app.config["GPU_QUEUE"]}
    with waits().share(access.caller().name) as may_wait:
        if not may_wait:  # a probe's answer is its wait: past the caller's share it cannot give one
            raise TooManyWaitsError(int(current_app.config["WAITS_PER_USER"]))
        return _probe(queue, queues[queue], wait)


def _probe(queue: str, queue_name: str, wait: float):
    """The probe job on `queue_name` (the `queue` the caller named: cpu or gpu), waited for up to `wait` s."""
    svc = services()
    t0 = time.perf_counter()
    job = submit("probe", owner=access.caller().name, session_id=None, options=NoOptions(), queue=queue_name,
                 capped=False)
    done = svc.jobs.wait(job["job_id"], float(wait))
    elapsed_ms = (time.perf_counter() - t0) * 1000
    if done is None or done["state"] != "succeeded":
        svc.jobs.request_cancel(job["job_id"])  # never let a stale probe run later
        return jsonify({"queue": queue, "ok": False, "job_id": job["job_id"],
                        "message": f"no worker answered on the {queue} queue within {seconds_text(wait)}"}), 504
    # which worker answered (its host and pid) is an operator's fact: admins only, null for others, as a model's
    # folder is (a stranger read a worker's host and pid in a job error)
    answered = done["result"] if access.caller().admin else {**done["result"], "worker": None, "pid": None}
    return jsonify({"queue": queue, "ok": True, "round_trip_ms": round(elapsed_ms, 2), "job_id": job["job_id"],
                    **answered})


def seconds_text(seconds: float) -> str:
    """A wait as a person reads it: to the millisecond (a stranger's tiny probe had been told "within 5e-324 s")."""
    if seconds < 0.001:
        return "less than a millisecond"
    return f"{round(seconds, 3):g} s"


@bp.delete("/jobs/<job_id>")
def cancel_job(job_id: str):
    job = access.job(job_id)  # 404 for another user's job, before anything changes
    svc = services()
    who = access.caller().name
    # the record says "admin" when an admin cancels another user's job: its owner may read it, and a user's data
    # never names another user (a job of another user is a 404 as if none existed); the log names the admin
    by = who if who == job["owner"] else ADMIN_CANCELER
    if by != who:
        log.info("job %s of %s: cancel asked by the admin %s", job_id, job["owner"], who)
    prev = svc.jobs.request_cancel(job_id, is_alive=svc.workers.is_alive, by=by)
    if prev is None:
        raise ConflictError(f"job {job_id!r} has already finished", code="job_finished")
    state = "cancel_requested" if prev == "running" else "canceled"  # queued, or its worker is gone
    return jsonify({"job_id": job_id, "state": state}), 202
