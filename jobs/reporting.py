"""The progress callback a job's pipeline is given (JobStore.reporter): records progress, sees cancels and the
job's time limit.

A pipeline may call it far more often than anything a reader sees changes: a text generation calls it before each
layer of the model while the prompt is read (a checkpoint where a cancel or the time limit takes effect), with the
same share and stage every time. Each such call used to write a progress event when 50 ms had passed since the
last, so a stranger's job stream and event log got 20-30 identical "reading the prompt (N tokens)" events per
generation. An event is written only when what a reader sees changes: the stage text, or the share as it is shown
(a whole percent: the page, the CLI and the client round to it); the cancel flag is still read at every call.

A report made inside a text generation carries its detail (worker/progress.py current_detail: the tokens written of
the budget, the rate, the time left), written with it as the record's `generation`; a report without one clears it.
The detail alone moving (a token more, the same percent) writes at most every DETAIL_SECONDS, so a budget of
thousands of tokens still tells its rate and time left, and a long prompt's layers read, once a second.

Each progress event carries the job's `eta` as it is at the report (jobs/estimates.py: its rate since the attempt
started, else, while a text generation reads its prompt, the reading's time left, else the expected run of its kind,
read once here, less what it has run), so a stream's reader needs no other read for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import redis

from worker.errors import JobCanceled, JobSuperseded, JobTimeLimitError
from worker.progress import current_detail

from . import keys
from .estimates import event_eta, expected_run
from .keys import text
from .queue_storage import QueueStorageFull

if TYPE_CHECKING:
    from .store import JobStore

log = logging.getLogger(__name__)

VISIBLE_STEP = 0.01  # the share as readers see it: whole percents (the page, the CLI and the client round to them)
DETAIL_SECONDS = 1.0  # a generation's detail alone moving is written at most this often


def shown_change(fraction: float, stage: str, last_fraction: float | None, last_stage: str) -> bool:
    """Whether (fraction, stage) shows anything the last written (last_fraction, last_stage) did not; None: none
    written yet."""
    if last_fraction is None or stage != last_stage:
        return True
    if fraction >= 1.0:  # the end is shown even from 99.6 % (which reads as 100 % too)
        return last_fraction < 1.0
    return round(fraction / VISIBLE_STEP) != round(last_fraction / VISIBLE_STEP)


def reporter(store: JobStore, job_id: str, *, min_interval: float = 0.05, started_at: float | None = None,
             limit_seconds: float | None = None, attempt: int | None = None) -> Callable[[float, str], None]:
    """See JobStore.reporter. `attempt`: the record's `attempts` as this run started it; a record no longer running
    that attempt (re-queued and started again while this process ran on, or ended) raises JobSuperseded before
    anything is written (both attempts had run to their end, writing the same record and files: a reliability trial
    SIGSTOPped a CPU worker's main process, its heartbeat expired, its job was re-queued, and once resumed its pool
    ran both attempts, the record's progress flipping between them)."""
    last_time, last_stage, last_fraction = 0.0, "", None
    last_detail: tuple | None = None  # what the last written detail showed moving (tokens, layers read)
    try:  # (Redis away now: no progress webhooks nor history for this attempt; the job goes on, see below)
        job = store.get(job_id)
        expect = expected_run(store.r, job) if job is not None else None  # its kind's run (jobs/estimates.py)
    except (redis.ConnectionError, redis.TimeoutError):
        job, expect = None, None
    hooked = job if store.webhooks is not None and job is not None and job.get("webhook") else None
    begun = started_at if started_at is not None else (job or {}).get("started_at")

    away = False  # Redis was unreachable at the last report: said once, not at every report
    limit = float(limit_seconds or 0)
    deadline = started_at + limit if started_at is not None and limit > 0 else None

    def report(fraction: float, stage: str) -> None:
        nonlocal last_time, last_stage, last_fraction, last_detail, away
        if deadline is not None and time.time() > deadline:
            raise JobTimeLimitError.past(limit)
        now = time.monotonic()
        fraction = round(min(max(float(fraction), 0.0), 1.0), 4)  # as the record keeps it
        try:
            # a new stage at once; a moved share at most every `min_interval` (20 events a second at most)
            shown = shown_change(fraction, stage, last_fraction, last_stage) and (
                stage != last_stage or fraction >= 1.0 or now - last_time >= min_interval)
            detail = current_detail() if shown or now - last_time >= DETAIL_SECONDS else None
            moved = _moved(detail)
            writes = shown or (detail is not None and moved != last_detail)
            if attempt and (writes or now - last_time >= DETAIL_SECONDS) and superseded(store, job_id, attempt):
                raise JobSuperseded(f"job {job_id}'s attempt {attempt} is no longer the one its record runs")
            if writes:
                eta = event_eta(fraction, begun, expect, detail)
                store.progress(job_id, fraction, stage, generation=detail, eta=eta)
                last_time, last_stage, last_fraction, last_detail = now, stage, fraction, moved
                if hooked is not None:  # rate-limited per job by the queue (WEBHOOK_PROGRESS_SECONDS)
                    store.queue_webhook(job_id, "progress", job={  # (its `eta` the event's: record.public_view)
                        **hooked, "state": "running", "stage": stage, "progress": fraction, "eta": eta,
                        **({"generation": detail} if detail is not None else {})})
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


def superseded(store: JobStore, job_id: str, attempt: int) -> bool:
    """Whether the record no longer runs `attempt` (a record gone is left to the runner: job_gone)."""
    state, attempts = store.r.hmget(keys.job(job_id), ["state", "attempts"])
    if state is None:
        return False
    return text(state) != "running" or int(attempts or 0) != attempt


def _moved(detail: dict | None) -> tuple | None:
    """What of a generation's detail is news to a reader: its tokens written and the prompt's layers read (its
    seconds change at every call)."""
    return None if detail is None else (detail.get("tokens_generated"), detail.get("layers_read"))
