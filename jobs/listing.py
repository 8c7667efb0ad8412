"""Pages of jobs newest first, with an opaque cursor and filters (GET /jobs).

A page reads the owner's (or the session's, or everyone's) index from the cursor's position down and keeps
the records that pass the filters, reading at most SCAN_FACTOR x limit index entries: a rare filter may
answer a short page, and its `next_cursor` continues the scan where it stopped, so a request's cost is
bounded whatever the filters. Cursors name the last entry read (its creation time and id: ties are
ordered by id), so a page never repeats or skips a job when new ones arrive in between.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import cast

import redis

from worker.errors import InvalidRequestError

from . import keys
from .keys import text
from .queue_storage import tidy
from .record import STATES, read_record
from .store import JobStore

SCAN_FACTOR = 20  # index entries read per requested job, at most
BATCH = 200  # index entries fetched per round trip
PAGE_RESULT_BYTES = 8 * 1024 * 1024  # results a page carries, about (at least one job: a record holds ~5 MB at most)


@dataclass(frozen=True)
class JobFilter:
    types: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()
    since: float | None = None  # created at or after (Unix seconds)

    def accepts(self, job: dict) -> bool:
        return (not self.types or job["type"] in self.types) and (not self.states or job["state"] in self.states)


@dataclass(frozen=True)
class Page:
    jobs: list[dict]
    next_cursor: str | None


def encode_cursor(score: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([score, job_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        score, job_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error) as e:
        raise InvalidRequestError("cursor is not one this API gave out", code="invalid_cursor") from e
    # what encode_cursor writes: a finite time and an id (a NaN had reached Redis and read as an outage, 503)
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score) \
            or not isinstance(job_id, str):
        raise InvalidRequestError("cursor is not one this API gave out", code="invalid_cursor")
    return float(score), job_id


def check_types(types: Iterable[str]) -> frozenset[str]:
    """Job types to list; an unknown one is a 400 (a typo would otherwise list nothing and look like no jobs)."""
    from .types import JOB_TYPES

    chosen = frozenset(types)
    unknown = sorted(chosen - set(JOB_TYPES))
    if unknown:
        raise InvalidRequestError(f"unknown job type(s) {', '.join(unknown)}", code="invalid_filter",
                                  details={"valid": sorted(JOB_TYPES)})
    return chosen


def check_states(states: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(states)
    unknown = sorted(chosen - STATES)
    if unknown:
        raise InvalidRequestError(f"unknown state(s) {', '.join(unknown)}", code="invalid_filter",
                                  details={"valid": sorted(STATES)})
    return chosen


def page_jobs(store: JobStore, *, owner: str | None, session_id: str | None, limit: int, cursor: str | None,
              where: JobFilter) -> Page:
    """Newest first from the cursor on: `owner`'s jobs (of one session), or everyone's (owner None).

    Entries are judged on a few small fields (owner, type, state) and the length of their result; only the jobs
    of the page are read whole, and a page ends early once its results would pass PAGE_RESULT_BYTES (it always
    holds at least one job): a pitch job of an hour's audio carries ~5 MB of melody, and a page of 1,000 such
    records had been read, then parsed and sent, at once."""
    index = keys.JOBS if owner is None else (
        keys.session_jobs(owner, session_id) if session_id else keys.owner_jobs(owner))
    after = decode_cursor(cursor) if cursor else None
    budget = max(limit * SCAN_FACTOR, BATCH)
    chosen: list[str] = []
    result_bytes = 0
    last: tuple[float, str] | None = after
    exhausted = full = False
    while not full and budget > 0:
        entries = _entries_after(store.r, index, last, where.since, min(BATCH, budget))
        if not entries:
            exhausted = True
            break
        budget -= len(entries)
        summaries = _summaries(store.r, entries)
        gone = [job_id for job_id, _, (_, job_type, _, _) in summaries if job_type is None]
        if gone:  # expired records: their ids leave the index too
            tidy(partial(store.r.zrem, index, *gone), f"{len(gone)} expired job ids of {index}")
        for job_id, score, (job_owner, job_type, state, size) in summaries:
            accepted = (job_type is not None and (owner is None or job_owner == owner)
                        and where.accepts({"type": job_type, "state": state}))
            if accepted and chosen and result_bytes + size > PAGE_RESULT_BYTES:
                full = True  # this job opens the next page: the cursor stays on the one before it
                break
            last = (score, job_id)
            if accepted:
                chosen.append(job_id)
                result_bytes += size
                if len(chosen) == limit:
                    full = True
                    break
    more = not exhausted and last is not None and bool(_entries_after(store.r, index, last, where.since, 1))
    return Page(_whole(store.r, chosen), encode_cursor(*last) if more and last is not None else None)


def _summaries(client: redis.Redis, entries: list[tuple[str, float]]
               ) -> list[tuple[str, float, tuple[str, str | None, str, int]]]:
    """(id, score, (owner, type, state, result length in bytes)) of each entry; type None: the record is gone."""
    pipe = client.pipeline()
    for job_id, _ in entries:
        pipe.hmget(keys.job(job_id), "owner", "type", "state")
        pipe.hstrlen(keys.job(job_id), "result")
        pipe.hstrlen(keys.job(job_id), "partial")  # a running batch's files so far (shown as partial_result)
    replies = pipe.execute()
    out = []
    for i, (job_id, score) in enumerate(entries):
        job_owner, job_type, state = (None if v is None else text(v) for v in replies[3 * i])
        size = int(replies[3 * i + 1]) + int(replies[3 * i + 2])
        out.append((job_id, score, (job_owner or "", job_type, state or "", size)))
    return out


def _whole(client: redis.Redis, job_ids: list[str]) -> list[dict]:
    """The records of `job_ids`, in order (one that expired since it was chosen is left out)."""
    pipe = client.pipeline()
    for job_id in job_ids:
        pipe.hgetall(keys.job(job_id))
    return [job for raw in pipe.execute() if (job := read_record(raw)) is not None]


def _entries_after(client: redis.Redis, index: str, after: tuple[float, str] | None, since: float | None,
                   count: int) -> list[tuple[str, float]]:
    """Up to `count` (id, score) of `index` after `after` in newest-first order (ties: by id, descending)."""
    top = "+inf" if after is None else after[0]
    low = "-inf" if since is None else since
    out: list[tuple[str, float]] = []
    offset = 0
    while len(out) < count:
        rows = cast(list[tuple[bytes, float]],
                    client.zrevrangebyscore(index, top, low, start=offset, num=count + 16, withscores=True))
        if not rows:
            break
        offset += len(rows)
        for member, score in rows:
            job_id = text(member)
            if after is not None and float(score) == after[0] and job_id >= after[1]:
                continue  # this or an earlier page's
            out.append((job_id, float(score)))
        if len(rows) < count + 16:
            break
    return out[:count]
