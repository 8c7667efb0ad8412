"""What deleting a session takes with it from Redis: its finished jobs' records (their results: transcripts,
analyses, melodies), their event logs and webhook histories (whose bodies carry the same results). A stranger
deleted a session and still read its lyrics at GET /jobs/<id>, and saw the jobs in GET /jobs, for the 30 days
of JOB_TTL_SECONDS. The cached results that point into the session go with it too (jobs/cache.py
`ResultCache.forget_session`).

A job not yet finished is left alone: DELETE /sessions/<id> refuses a session with one (409), so only a job
queued in the moment between that check and the deletion can be one, and it fails on its missing files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import redis

from . import keys
from .keys import text
from .record import TERMINAL_STATES

CHUNK = 500  # job ids per round trip: a session of many thousand jobs is erased in bounded pipelines


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
