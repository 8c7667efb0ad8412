"""The data disk's space held for jobs accepted and not yet finished: what MIN_FREE_DISK_MB's check counts beside the
free space (disk_space.require_room_for_job, api/disk_room.py).

The check had counted the free space alone: two stems jobs asked back to back were both accepted when each alone
fitted, and the second failed 507 in the worker once its stems met the disk the first had filled. Now a job that will
write results reserves them as it is recorded (JobStore.create, in the step that writes its record): its id goes into
a sorted set of its data directory (keys.disk_reserved, by the directory's id, DATA_DIR/.data-dir-id: the same on every
machine that mounts it, another for each test's own folder on a shared Redis), scored by the time it was made. The
bytes are its record's `output_estimate` (jobs/output_estimate.py), read with its state, so nothing is stored twice.

A reservation ends with its job, in one place: JobStore._end, which records every final state however it comes
(the runner's success, failure or cancel; a cancel of a queued job or one whose worker is gone; recovery failing a
job whose worker died too often; the watchdog's stop of a stuck one). A job requeued after its worker died keeps it:
it will write its results yet. Whatever is left behind is dropped when it is read, so that a leak never blocks the
service for good:
- an entry whose record has ended (a process died between the end and the removal) or is gone (withdrawn before it
  was queued, its session erased, expired after JOB_TTL_SECONDS, Redis emptied);
- an entry older than the longest a job may be expected to take: LONGEST_JOB_SECONDS plus JOB_STOP_GRACE_SECONDS
  (after which the watchdog ends a running job) from the later of the reservation and the job's current start. A
  record stuck queued with no message, or running with no live worker left to recover it, would otherwise hold the
  disk for ever. Such a job, should it run after all, meets the disk as it did before reservations existed: written
  if the space is there, failed 507 if not, never a service that refuses every job. (A job that waits in the queue
  longer than that, behind a backlog of hours, is counted no more either: the bound errs toward taking jobs.)

A running job has written part of its results already, and the free space reflects that part: counting its whole
estimate beside it would count those bytes twice. So a running job's reservation is its estimate less the bytes of
the files its current attempt has noted so far (jobs/job_writes.py: the temporary file being written, the results in
place), never below 0. The estimate is at or a little above what is written (the README's quota section), so a job
near its end holds about nothing, and one that writes more than estimated makes no room for others. Files of an
earlier attempt (one whose worker died) are not subtracted: they are taken back before the next attempt starts, and
that attempt writes them again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from . import keys
from .job_writes import JobWrites
from .keys import text
from .record import TERMINAL_STATES


@dataclass(frozen=True)
class Held:
    """What the unfinished jobs of a data directory will still write: how many, and the bytes."""

    jobs: int = 0
    bytes: int = 0


class DiskReservations:
    def __init__(self, client: redis.Redis):
        self.r = client

    @staticmethod
    def add(pipe: redis.client.Pipeline, *, data_dir: str, job_id: str, at: float) -> None:
        """In the pipeline that records the job: its record and its reservation are made in one step."""
        pipe.zadd(keys.disk_reserved(data_dir), {job_id: at})

    def release(self, *, data_dir: str, job_id: str) -> None:
        self.r.zrem(keys.disk_reserved(data_dir), job_id)

    def held(self, data_dir: str, *, limit_seconds: float, writes: JobWrites | None = None,
             now: float | None = None) -> Held:
        """The reservations on `data_dir` (its id) that stand, less what their running jobs wrote already
        (`writes`: the store's, whose DATA_DIR is this one); those that do not stand are removed (see above)."""
        key = keys.disk_reserved(data_dir)
        raw: list[tuple[bytes, float]] = self.r.zrange(key, 0, -1, withscores=True)  # type: ignore[assignment]
        entries = [(text(i), float(at)) for i, at in raw]
        if not entries:
            return Held()
        pipe = self.r.pipeline(transaction=False)
        for job_id, _ in entries:
            pipe.hmget(keys.job(job_id), "state", "output_estimate", "started_at", "attempts")
        now = time.time() if now is None else now
        stale, jobs, total = [], 0, 0
        for (job_id, at), (state, estimate, started, attempts) in zip(entries, pipe.execute(), strict=True):
            since = max(at, float(text(started)) if started else 0.0)
            if state is None or text(state) in TERMINAL_STATES or now - since > limit_seconds:
                stale.append(job_id)
                continue
            left = int(text(estimate)) if estimate else 0
            if text(state) == "running" and writes is not None:
                left -= writes.written_bytes(job_id, int(text(attempts or b"0")))
            jobs, total = jobs + 1, total + max(left, 0)
        if stale:
            try:
                self.r.zrem(key, *stale)
            except redis.RedisError:  # a full queue disk refuses writes: the check stands, the tidying waits
                pass
        return Held(jobs, total)
