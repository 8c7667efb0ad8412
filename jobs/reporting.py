"""The progress callback a job's pipeline is given (JobStore.reporter): records progress, sees cancels and the
job's time limit.

A pipeline may call it far more often than anything a reader sees changes: a text generation calls it before each
layer of the model while the prompt is read (a checkpoint where a cancel or the time limit takes effect), with the
same share and stage every time. Each such call used to write a progress event when 50 ms had passed since the
last, so a stranger's job stream and event log got 20-30 identical "reading the prompt (N tokens)" events per
generation. An event is written only when what a reader sees changes: the stage text, or the share as it is shown
(a whole percent: the page, the CLI and the client round to it); the cancel flag is still read at every call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import redis

from worker.errors import JobCanceled, JobTimeLimitError

from .queue_storage import QueueStorageFull

if TYPE_CHECKING:
    from .store import JobStore

log = logging.getLogger(__name__)

VISIBLE_STEP = 0.01  # the share as readers see it: whole percents (the page, the CLI and the client round to them)


def shown_change(fraction: float, stage: str, last_fraction: float | None, last_stage: str) -> bool:
    """Whether (fraction, stage) shows anything the last written (last_fraction, last_stage) did not; None: none
    written yet."""
    if last_fraction is None or stage != last_stage:
        return True
    if fraction >= 1.0:  # the end is shown even from 99.6 % (which reads as 100 % too)
        return last_fraction < 1.0
    return round(fraction / VISIBLE_STEP) != round(last_fraction / VISIBLE_STEP)


def reporter(store: JobStore, job_id: str, *, min_interval: float = 0.05, started_at: float | None = None,
             limit_seconds: float | None = None) -> Callable[[float, str], None]:
    """See JobStore.reporter."""
    last_time, last_stage, last_fraction = 0.0, "", None
    try:  # (Redis away now: no progress webhooks for this attempt; the job goes on, see below)
        hooked = store.get(job_id) if store.webhooks is not None else None
    except (redis.ConnectionError, redis.TimeoutError):
        hooked = None
    if hooked is not None and not hooked.get("webhook"):
        hooked = None

    away = False  # Redis was unreachable at the last report: said once, not at every report
    limit = float(limit_seconds or 0)
    deadline = started_at + limit if started_at is not None and limit > 0 else None

    def report(fraction: float, stage: str) -> None:
        nonlocal last_time, last_stage, last_fraction, away
        if deadline is not None and time.time() > deadline:
            raise JobTimeLimitError.past(limit)
        now = time.monotonic()
        fraction = round(min(max(float(fraction), 0.0), 1.0), 4)  # as the record keeps it
        try:
            # a new stage at once; a moved share at most every `min_interval` (20 events a second at most)
            if shown_change(fraction, stage, last_fraction, last_stage) and (
                    stage != last_stage or fraction >= 1.0 or now - last_time >= min_interval):
                store.progress(job_id, fraction, stage)
                last_time, last_stage, last_fraction = now, stage, fraction
                if hooked is not None:  # rate-limited per job by the queue (WEBHOOK_PROGRESS_SECONDS)
                    store.queue_webhook(job_id, "progress", job={**hooked, "state": "running", "stage": stage,
                                                                 "progress": fraction})
            canceled = store.cancel_requested(job_id)
        except (redis.ConnectionError, redis.TimeoutError) as e:
            if isinstance(e, QueueStorageFull):  # its disk is full: the job fails insufficient_storage
                raise
            # Redis away for a moment: the work goes on (its outcome waits for Redis, runner._record_outcome);
            # only this progress is not shown, and a cancel is seen once Redis is back
            if not away:
                log.warning("progress of job %s not recorded while Redis is not reachable", job_id)
            away = True
            return
        away = False
        if canceled:
            raise JobCanceled("the job was canceled")

    return report
