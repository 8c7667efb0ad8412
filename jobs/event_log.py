"""A job's event log: the Redis stream jobs/store.py writes beside every pub/sub event, read for SSE.

Every state change and progress report of a job is published on its pub/sub channel and, in the same
atomic step, appended to a capped stream (keys.event_log). The stream entry ids ("<ms>-<seq>", assigned
by Redis, increasing per stream even if the clock steps back) are the SSE event ids: a client that
reconnects with `Last-Event-ID` gets exactly the entries after it from one XREAD, and a listener blocks
in XREAD until the next entry arrives, so neither needs a subscribe-then-read dance nor a polling loop.
Once the job has ended, the log holds only its final event (the store trims it), whose id is then the
id of the final record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import redis

from . import keys
from .keys import text
from .record import TERMINAL_STATES, read_record

NO_EVENT_ID = "0-0"  # the id before any event: what a job that has not changed since it was created shows
READ_BATCH = 100  # entries one XREAD returns at most; a replay after a long gap takes several reads
_EVENT_ID = re.compile(r"^(\d{1,20})-(\d{1,20})$")


def parse_event_id(text: str) -> tuple[int, int] | None:
    """An event id as a comparable (milliseconds, sequence) pair; None when it is not one."""
    match = _EVENT_ID.match(text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def event_id_key(event_id: str) -> tuple[int, int]:
    parsed = parse_event_id(event_id)
    if parsed is None:
        raise ValueError(f"not an event id: {event_id!r}")
    return parsed


@dataclass(frozen=True)
class Event:
    id: str  # the stream entry id
    kind: str  # "state" (a transition) or "progress"
    data: dict  # {state, progress, stage}, as published

    @property
    def final(self) -> bool:
        return self.data.get("state") in TERMINAL_STATES


@dataclass(frozen=True)
class LogView:
    """A job's record and its log's bounds, read in one MULTI (the store changes both atomically)."""

    job: dict | None
    first_id: str | None  # the oldest entry kept; None when the log is empty or absent
    last_id: str  # the newest entry, NO_EVENT_ID when there is none
    trimmed: bool  # entries older than first_id were dropped (a resume from before it has a gap)


class EventLog:
    def __init__(self, client: redis.Redis):
        # `client` must wait longer than the longest XREAD block (its socket timeout ends the read otherwise)
        self.r = client

    def view(self, job_id: str) -> LogView:
        pipe = self.r.pipeline()  # MULTI: record and log bounds from one instant
        pipe.hgetall(keys.job(job_id))
        pipe.xinfo_stream(keys.event_log(job_id))
        raw, info = pipe.execute(raise_on_error=False)
        if isinstance(raw, Exception):
            raise raw
        job = read_record(raw)
        if isinstance(info, redis.ResponseError):  # no such key: nothing logged yet, or a job of an older version
            return LogView(job, None, NO_EVENT_ID, False)
        if isinstance(info, Exception):
            raise info
        first = info.get("first-entry")
        last = info.get("last-entry")
        # we only ever trim from the head, so "entries added" above "length" means old entries are gone;
        # a server without the field (older than Redis 7) is taken to have trimmed
        added = info.get("entries-added")
        trimmed = added is None or int(added) > int(info.get("length") or 0)
        return LogView(job, text(first[0]) if first else None, text(last[0]) if last else NO_EVENT_ID, trimmed)

    def after(self, job_id: str, cursor: str, *, block_ms: int) -> list[Event]:
        """The entries after `cursor`, waiting up to `block_ms` for one when there is none yet ([] then)."""
        # RESP2 reply: [[stream, [(id, {field: value}), ...]]], or empty after the block
        reply: Any = self.r.xread({keys.event_log(job_id): cursor}, count=READ_BATCH, block=max(1, int(block_ms)))
        if not reply:
            return []
        return [_event(entry_id, fields) for entry_id, fields in reply[0][1]]

    def job(self, job_id: str) -> dict | None:
        raw = self.r.hgetall(keys.job(job_id))
        return read_record(raw)

    def exists(self, job_id: str) -> bool:
        return bool(self.r.exists(keys.job(job_id)))


def _event(entry_id: bytes | str, fields: dict) -> Event:
    values = {text(k): text(v) for k, v in fields.items()}
    return Event(text(entry_id), values.get("kind", "state"), json.loads(values.get("data") or "{}"))
