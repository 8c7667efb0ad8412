"""What recovery scans of the job store (jobs/recovery.py, jobs/runtime.py): the running set, the jobs whose Celery
message may not have been sent, and the one-worker claims on a recovery. A part of JobStore (jobs/store.py), kept
apart so that module stays within its size."""

from __future__ import annotations

import time

import redis

from . import keys
from .keys import text


class RecoveryMarks:
    """The job store's recovery bookkeeping, on its client `r`."""

    r: redis.Redis

    def published(self, job_id: str) -> None:
        """The job's Celery message was sent (or it needs none): recovery need not publish it."""
        self.r.zrem(keys.UNPUBLISHED, job_id)

    def unpublished_ids(self, *, older_than: float) -> list[str]:
        """Jobs recorded queued more than `older_than` seconds ago whose publisher never said it published them."""
        return [text(i) for i in self.r.zrangebyscore(keys.UNPUBLISHED, "-inf", time.time() - older_than)]  # type: ignore[arg-type]

    def forget_running(self, job_id: str) -> None:
        """Drop a finished or vanished job from the running set (recovery's housekeeping)."""
        self.r.srem(keys.RUNNING, job_id)

    def claim_recovery(self, job_id: str, owner: str, *, attempt: int, seconds: float, publish: bool = False) -> bool:
        """True for the one worker that may recover attempt `attempt` of `job_id` (or, `publish`, send its message)
        in the next `seconds` (keys.recover_lock: the next attempt's recovery never waits for this one's lock)."""
        return bool(self.r.set(keys.recover_lock(job_id, attempt, publish=publish), owner, nx=True,
                               ex=max(1, int(seconds))))

    def running_ids(self) -> list[str]:
        return [text(i) for i in self.r.smembers(keys.RUNNING)]
