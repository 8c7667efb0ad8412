"""What a job record holds: its states, how its Redis hash decodes, and what clients see of it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from users import ADMIN_CANCELER as ADMIN_CANCELER
from users import SYSTEM_CANCELER as SYSTEM_CANCELER

from .batch_so_far import VIEW
from .estimates import queued_eta, running_eta
from .keys import text
from .method import job_method

TERMINAL_STATES = frozenset({"succeeded", "failed", "canceled"})
STATES = frozenset({"queued", "running"}) | TERMINAL_STATES
# `canceled_by` of a canceled job, besides its owner's own name: the service itself (a probe nobody waits for any
# more), or an admin who is not its owner (a user's record never names another user)
# (users.py holds them: no user may be named so)
JSON_FIELDS = ("params", "result", "error", "files", "webhook_events", "partial", "kept", "lost_attempts",
               "generation")
WORKER_LOST, WORKER_SHUT_DOWN = "worker_lost", "worker_shut_down"  # why an attempt ended without its runner


def iso(ts: float | str | None) -> str | None:
    if ts in (None, ""):
        return None
    return datetime.fromtimestamp(float(ts), tz=UTC).isoformat(timespec="milliseconds")


REQUIRED_FIELDS = (b"job_id", b"type", b"state")  # what every record a job was created with has


def read_record(raw: Mapping | None) -> dict | None:
    """A stored record decoded, or None for none or for a fragment that is not a job's record (a few fields an
    older version's unconditional progress write left in a Redis that had come back empty: read as a record, it
    answered 500 at GET /jobs/<id> for good)."""
    if not raw or any(k not in raw and k.decode() not in raw for k in REQUIRED_FIELDS):
        return None
    return decode_record(raw)


def decode_record(raw: Mapping) -> dict:
    rec: dict[str, Any] = {text(k): text(v) if isinstance(v, bytes | str) else str(v) for k, v in raw.items()}
    for k in JSON_FIELDS:
        if rec.get(k):
            rec[k] = json.loads(rec[k])
        else:
            rec.pop(k, None)
    rec["owner"] = rec.get("owner") or ""  # records of older versions have none
    rec["progress"] = float(rec.get("progress") or 0.0)
    rec["attempts"] = int(rec.get("attempts") or 0)
    rec["handed_back"] = int(rec.get("handed_back") or 0)  # attempts a graceful stop ended: not lost (runtime.py)
    rec["error_status"] = int(rec["error_status"]) if rec.get("error_status") else None
    for k in ("created_at", "first_started_at", "started_at", "finished_at"):
        rec[k] = float(rec[k]) if rec.get(k) else None
    return rec


def files_read(params: Mapping[str, Any]) -> list[str]:
    """The uploads a job with these params reads: those it names (a batch names every upload it was queued with),
    and the album art an LLM analysis was given (`options.image`: an image deleted under its queued job had been
    missing when it ran)."""
    files = list(params.get("files") or [])
    image = (params.get("options") or {}).get("image")
    return [*files, image] if isinstance(image, str) else files


def public_view(job: dict) -> dict:
    """The job as clients see it (GET /jobs/<id>)."""
    out = {
        "job_id": job["job_id"],
        "owner": job.get("owner") or None,
        "session_id": job["session_id"] or None,
        "type": job["type"],
        "method": job_method(job),  # what it ran: `type` is its route's name (a REPET separation is `demucs`)
        "state": job["state"],
        "progress": job["progress"],
        "stage": job["stage"],
        "created_at": iso(job.get("created_at")),
        "started_at": iso(job.get("started_at")),
        # the first attempt's start: `started_at` is the current (last) attempt's; null in records of older versions
        "first_started_at": iso(job.get("first_started_at")),
        "finished_at": iso(job.get("finished_at")),
        "queue": job.get("queue"),
        "attempts": job.get("attempts", 0),
        "lost_attempts": [{**lost, **{k: iso(lost.get(k)) for k in ("started_at", "last_heard_at", "lost_at")}}
                          for lost in job.get("lost_attempts") or []],
        "request_id": job.get("request_id") or None,
        # the uploads it reads (a batch: all of them when it was queued); none for model and library jobs
        "input_files": list((job.get("params") or {}).get("files") or []),
    }
    partial = job.get("partial")
    if job["state"] == "running" and isinstance(partial, dict) and partial.get("attempt") == job.get("attempts"):
        # a running batch's files finished so far (a retried job's first attempt's are not this one's)
        out["partial_result"] = {k: partial[k] for k in VIEW}
    if job["state"] == "running":  # how long it has left (jobs/estimates.py: history is added at read time; a
        # progress webhook's job carries the one its report told)
        out["eta"] = job["eta"] if isinstance(job.get("eta"), dict) else running_eta(job)
    elif job["state"] == "queued":  # when it may start: jobs/estimates.py add_estimates, where the place is known
        out["eta"] = queued_eta()
    if job["state"] == "running" and isinstance(job.get("generation"), dict):
        # a text generation under way: its tokens of the budget, rate and time left (worker/llm/meter.py)
        out["generation"] = job["generation"]
    if job["state"] == "succeeded" or (job["state"] in ("canceled", "failed") and job.get("result")):
        out["result"] = job.get("result")  # a batch canceled or stopped midway: the files it had finished
        if job["type"] == "probe" and isinstance(out["result"], dict):  # its worker's host and pid: POST /jobs/probe
            out["result"] = {**out["result"], "worker": None, "pid": None}  # gives them to admins only
        out["files"] = job.get("files", [])
    if job["state"] == "failed":
        out["error"] = job.get("error")
    if job["state"] == "canceled":  # who asked (api/jobs.py): null for a job canceled before the field existed
        out["canceled_by"] = job.get("canceled_by") or None
    return out


def lost_attempts_after(job: dict, now: float, *, heard: float | None) -> list[dict]:
    """The record's `lost_attempts` with its current attempt added, read running and found without its runner at `now`
    (a dead worker's or pool child's: a graceful stop's handed-back attempt says so): {attempt, started_at,
    last_heard_at (its last event: the process died after it), lost_at (when the loss was found: up to a few
    heartbeats later), reason}. `heard`: the time of the job's last event (its event log's newest id)."""
    started = job.get("started_at")
    handed_back = job.get("handed_back_attempt") == str(job.get("attempts"))
    last = None if heard is None else min(max(heard, started or heard), now)  # within the attempt (clocks apart)
    lost = {"attempt": int(job.get("attempts") or 0), "started_at": started, "last_heard_at": last, "lost_at": now,
            "reason": WORKER_SHUT_DOWN if handed_back else WORKER_LOST}
    return [*(job.get("lost_attempts") or []), lost]
