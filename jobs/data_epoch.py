"""Since when Redis has held the service's data, and job ids that say when they were made: a job lost with a Redis
that came back empty reads as lost, with why, instead of an unexplained 404.

A Redis that keeps nothing on disk (`appendonly no`, `save ""`) comes back empty from a restart: the queued jobs'
records and messages are gone, and nothing on disk holds them (a session keeps its uploads and results, never the
jobs asked of it), so they cannot be queued again. A stranger's queued job then answered `no job '<id>'`, and no log
said that the queue had been lost. Now:

- `DATA_SINCE` holds when Redis's current data began: set (if missing) by every job's creation and every worker beat,
  so after an emptying it is the first write's time;
- a job id is a version 7 UUID in hex (its first 48 bits the creation time in ms), so a missing job made before that
  time is one the emptying took (or one deleted or expired before it);
- each worker logs once, at ERROR, that Redis came back empty and what was lost, when `DATA_SINCE` moves on.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime

import redis

from . import keys

log = logging.getLogger(__name__)
LOST_NOTE = ("the job queue (Redis) came back empty at {since}, having kept nothing on disk: every job queued "
             "before then was lost with its record and never ran (submit it again); the result files of the jobs "
             "that had finished are still in their sessions")


def new_job_id() -> str:
    """A version 7 UUID in hex: 48 bits of milliseconds since the epoch, then random bits (32 hex digits, as the
    version 4 ids made before)."""
    value = (int(time.time() * 1000) & (2**48 - 1)) << 80 | secrets.randbits(80)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    return f"{value:032x}"


def made_at(job_id: str) -> float | None:
    """When a job id of `new_job_id` was made (time.time()); None for another id (the version 4 ids of before)."""
    if len(job_id) != 32 or job_id[12] != "7" or job_id[16] not in "89ab":
        return None
    try:
        return int(job_id[:12], 16) / 1000.0
    except ValueError:
        return None


def note_data(pipe: redis.client.Pipeline, now: float) -> None:
    """Part of a write of the service's data: records `now` as when Redis's data began, if nothing had."""
    pipe.set(keys.DATA_SINCE, repr(now), nx=True)


def data_since(client: redis.Redis) -> float | None:
    return _seconds(client.get(keys.DATA_SINCE))


def _seconds(raw: bytes | str | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")


def lost_message(job_id: str, client: redis.Redis) -> str | None:
    """Why there is no record of `job_id`, when it was made before Redis's data began; else None."""
    made = made_at(job_id)
    since = data_since(client) if made is not None else None
    if made is None or since is None or made >= since:
        return None
    return f"no job '{job_id}': it was made at {when(made)}, and " + LOST_NOTE.format(since=when(since))


class EmptiedWatch:
    """A worker's eye on `DATA_SINCE`: says once, in its log, that Redis came back empty (run at every beat)."""

    def __init__(self) -> None:
        self.seen: float | None = None

    def check(self, client: redis.Redis) -> bool:
        """True (and the log's ERROR) when Redis's data began again since the last look."""
        pipe = client.pipeline()
        note_data(pipe, time.time())
        pipe.get(keys.DATA_SINCE)
        since = _seconds(pipe.execute()[-1])  # read as data_since reads it: a stray value is no crash of the beat
        emptied = self.seen is not None and since is not None and since > self.seen
        if emptied and since is not None:
            log.error("Redis lost its data: %s (REDIS_URL's Redis keeps nothing on disk; set `appendonly yes`)",
                      LOST_NOTE.format(since=when(since)))
        self.seen = since
        return emptied
