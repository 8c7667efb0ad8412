"""What deleting a session takes with it from Redis: its finished jobs' records (their results: transcripts,
analyses, melodies), their event logs and webhook histories (whose bodies carry the same results). A stranger
deleted a session and still read its lyrics at GET /jobs/<id>, and saw the jobs in GET /jobs, for the 30 days
of JOB_TTL_SECONDS. The cached results that point into the session go with it too (jobs/cache.py
`ResultCache.forget_session`).

A job not yet finished is left alone: DELETE /sessions/<id> refuses a session with one (409). A job requested
while the deletion runs is withdrawn before it is queued: the deletion marks the session (`deleting`) before it
looks for unfinished jobs, and a new job, once indexed under its session, looks for that mark and for the
session's folder (`withdraw_if_gone`). Redis orders the two: either the deletion sees the job (409) or the job
sees the mark (the request answers 409: retry) or the missing folder (404). Before, a stranger's process request
racing a DELETE answered 202 and its job then vanished with the session (1 of 8 races). DELETE of one upload
(/sessions/<id>/files/<name>) marks that upload the same way: a job on it had answered 202 and then failed
`file_not_found` (5 of a stranger's 36 races).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import redis

from . import keys
from .keys import text
from .queue_storage import QueueStorageFull
from .record import TERMINAL_STATES

CHUNK = 500  # job ids per round trip: a session of many thousand jobs is erased in bounded pipelines
DELETING_SECONDS = 300  # how long the mark outlives an API process killed in the middle of a deletion
FREED_WAIT_SECONDS = 5.0  # how long a deletion on a full queue disk waits for valkey to take its own writes again
log = logging.getLogger(__name__)
T = TypeVar("T")


@contextmanager
def deleting(r: redis.Redis, *, owner: str, session_id: str, name: str | None = None) -> Iterator[None]:
    """Mark `owner`'s session (or its upload `name`) as being deleted for the block (a count: two deletions at
    once each hold it)."""
    key = keys.session_deleting(owner, session_id) if name is None else keys.upload_deleting(owner, session_id, name)
    pipe = r.pipeline()
    pipe.incr(key)
    pipe.expire(key, DELETING_SECONDS)
    try:
        pipe.execute()
    except QueueStorageFull:
        # the job queue refuses writes (its disk is full): no job can be requested meanwhile either, and deleting is
        # how a user frees space. Unmarked, it goes on (it had been refused, 507 "nothing was queued")
        log.warning("the job queue refuses writes: deleting %s of session %s unmarked", name or "all", session_id)
        yield
        return
    try:
        yield
    finally:
        if int(r.decr(key)) <= 0:
            r.delete(key)


def once_writable(write: Callable[[], T], what: str, *, seconds: float = FREED_WAIT_SECONDS) -> T | None:
    """`write()` after a deletion, waited for while the job queue refuses writes (up to `seconds`): the space the
    deletion freed lets valkey take writes again within its next retry (about a second). None if it still refuses:
    the files are gone, which is what the caller asked; `what` goes to the log."""
    delay, deadline = 0.1, time.monotonic() + seconds
    while True:
        try:
            return write()
        except QueueStorageFull:
            if time.monotonic() + delay > deadline:
                log.error("the job queue still refuses writes: not done: %s", what)
                return None
            threading.Event().wait(delay)  # a backoff for valkey's retry, not a test's synchronisation
            delay = min(delay * 2, 1.0)


@dataclass(frozen=True)
class Gone:
    """Why a job just created was withdrawn: what (`session` or an upload's name), and whether it is `deleting`
    now (the deletion may still fail: worth a retry) or gone."""

    what: str
    deleting: bool


def withdraw_if_gone(r: redis.Redis, *, owner: str, session_id: str, job_id: str, session_exists: bool,
                     uploads: dict[str, bool]) -> Gone | None:
    """Erase a job just created (indexed, not yet queued) when its session or one of its uploads is being deleted
    or is gone (`session_exists`, `uploads` name -> exists: looked at after the job was indexed); why, or None
    when the job stands."""
    pipe = r.pipeline()
    pipe.exists(keys.session_deleting(owner, session_id))
    for name in uploads:
        pipe.exists(keys.upload_deleting(owner, session_id, name))
    marks = pipe.execute()
    found = (Gone("session", True) if marks[0] else None) or (None if session_exists else Gone("session", False))
    for (name, exists), marked in zip(uploads.items(), marks[1:], strict=True):
        found = found or (Gone(name, True) if marked else None) or (None if exists else Gone(name, False))
    if found is not None:
        _erase(r, owner=owner, index=keys.session_jobs(owner, session_id), job_ids=[job_id])
    return found


def erase_session_jobs(r: redis.Redis, *, owner: str, session_id: str) -> int:
    """Delete the finished jobs of `owner`'s session `session_id` and everything kept about them; the number
    erased. The session's index keeps only jobs left alone (none, but for the race above)."""
    index = keys.session_jobs(owner, session_id)
    erased = 0
    for ids in _chunks([text(i) for i in r.zrange(index, 0, -1)]):  # type: ignore[arg-type]  # redis-py: withscores=False
        pipe = r.pipeline()
        for job_id in ids:
            pipe.hmget(keys.job(job_id), "state", "session_id")
        # an expired record (state None) leaves only its index entries and keys that outlived it
        finished = [job_id for job_id, (state, sid) in zip(ids, pipe.execute(), strict=True)
                    if state is None or (text(state) in TERMINAL_STATES and text(sid or b"") == session_id)]
        if finished:
            erased += _erase(r, owner=owner, index=index, job_ids=finished)
    return erased


def _erase(r: redis.Redis, *, owner: str, index: str, job_ids: Sequence[str]) -> int:
    pipe = r.pipeline()
    for job_id in job_ids:
        pipe.lrange(keys.job_webhooks(job_id), 0, -1)
    deliveries = [text(d) for found in pipe.execute() for d in found]
    pipe = r.pipeline()
    for job_id in job_ids:
        pipe.delete(keys.job(job_id), keys.event_log(job_id), keys.job_webhooks(job_id),
                    keys.webhook_progress(job_id), keys.cancel(job_id))
    for part in _chunks(deliveries):
        pipe.delete(*[keys.webhook(d) for d in part])
        pipe.zrem(keys.WEBHOOKS_DUE, *part)  # a retry still due has nothing left to send
    for key in (keys.JOBS, keys.owner_jobs(owner), keys.UNPUBLISHED, index):
        pipe.zrem(key, *job_ids)
    pipe.execute()
    return len(job_ids)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
