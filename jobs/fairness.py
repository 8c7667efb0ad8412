"""Turns on a shared queue: one user's backlog does not hold every other user's jobs behind it.

A Celery queue is first come, first served, and the GPU queue has one worker: a user who queued 200 analyses
made the next user's single job wait for all of them. Each job is now published with a Celery priority, the
number of its owner's jobs on that queue that were queued or running before it (at most 9). kombu's Redis
transport keeps a list per level and a worker takes from the lowest level that holds a message, so users take
turns: every user's first waiting job comes before anyone's second, every second before anyone's third, and
so on up to the tenth; from there on a heavy user's jobs are first come, first served among themselves.

The same per-owner index caps a backlog: MAX_ACTIVE_JOBS_PER_USER jobs queued or running on one queue; past it
a new job is refused (429 too_many_jobs) until some have ended. Records that left the index without a word (a
process that died between a job's end and its removal, a record that expired) are pruned when they matter.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from worker.errors import MusicAnalyzerError

from . import keys
from .keys import text
from .record import TERMINAL_STATES

PRIORITY_LEVELS = 10  # kombu's Redis transport: 0 (taken first) to 9; celery_app.py asks it for every level
RETRY_AFTER_SECONDS = 60  # a guess: nothing says when a user's jobs will end


class TooManyJobsError(MusicAnalyzerError):
    """The job's owner already has MAX_ACTIVE_JOBS_PER_USER jobs queued or running on its queue."""

    code = "too_many_jobs"
    http_status = 429

    def __init__(self, limit: int):
        super().__init__(f"{limit} job(s) of this user are already queued or running on this queue "
                         "(MAX_ACTIVE_JOBS_PER_USER); try again once some have finished, or cancel some")
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class ActiveJobs:
    """Each owner's queued or running jobs per queue, oldest first (a sorted set by creation time)."""

    def __init__(self, client: redis.Redis):
        self.r = client

    def add(self, pipe: redis.client.Pipeline, *, owner: str, queue: str, job_id: str, created: float) -> None:
        pipe.zadd(keys.owner_active(owner, queue), {job_id: created})

    def remove(self, *, owner: str, queue: str, job_id: str) -> None:
        self.r.zrem(keys.owner_active(owner, queue), job_id)

    def check_room(self, *, owner: str, queue: str, limit: int) -> None:
        """Raise TooManyJobsError when `owner` has `limit` or more jobs queued or running on `queue`.
        Two requests at the same moment may both pass: the cap is a bound on a backlog, not a count to the job."""
        key = keys.owner_active(owner, queue)
        if self.r.zcard(key) < limit:
            return
        self._prune(key, first=limit)
        if self.r.zcard(key) >= limit:
            raise TooManyJobsError(limit)

    def reserved_bytes(self, *, owner: str, queues: Iterable[str]) -> tuple[int, int]:
        """(jobs, bytes): the owner's queued or running jobs on `queues` and the sum of their `output_estimate`s,
        what they will write into the owner's sessions (api/quota.py). A job leaves the index as it ends (succeeded,
        failed, canceled); one whose record ended or vanished without leaving it (lost, expired, erased with its
        session) is skipped here. Records of older versions carry no estimate and count 0."""
        ids = [text(i) for queue in dict.fromkeys(queues)  # type: ignore[arg-type]
               for i in self.r.zrange(keys.owner_active(owner, queue), 0, -1)]
        pipe = self.r.pipeline(transaction=False)
        for job_id in ids:
            pipe.hmget(keys.job(job_id), "state", "output_estimate")
        jobs, total = 0, 0
        for state, estimate in pipe.execute() if ids else []:
            if state is None or text(state) in TERMINAL_STATES:
                continue
            jobs += 1
            total += int(text(estimate)) if estimate else 0
        return jobs, total

    def priority(self, *, owner: str, queue: str, job_id: str) -> int:
        """The job's Celery priority: how many of its owner's jobs on `queue` came before it and have not
        ended, at most PRIORITY_LEVELS - 1 (0 for a job not in the index: a record of an older version)."""
        key = keys.owner_active(owner, queue)
        self._prune(key, first=PRIORITY_LEVELS)
        rank = self.r.zrank(key, job_id)
        return 0 if rank is None else min(int(rank), PRIORITY_LEVELS - 1)  # type: ignore[arg-type]

    def _prune(self, key: str, *, first: int) -> None:
        """Drop ended or vanished jobs from the oldest `first` entries until those are all live."""
        while ids := [text(i) for i in self.r.zrange(key, 0, first - 1)]:  # type: ignore[arg-type]
            pipe = self.r.pipeline(transaction=False)
            for job_id in ids:
                pipe.hget(keys.job(job_id), "state")
            stale = [job_id for job_id, state in zip(ids, pipe.execute(), strict=True)
                     if state is None or text(state) in TERMINAL_STATES]
            if not stale:
                return
            self.r.zrem(key, *stale)
