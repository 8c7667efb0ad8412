"""Jobs that must stop but cannot stop themselves: past LONGEST_JOB_SECONDS, or canceled, and reporting nothing.

A job stops itself at its next progress report once it is past the limit (the reporter of jobs/store.py raises
JobTimeLimitError: failed, `time_limit_exceeded`) or canceled (JobCanceled): the usual paths, its files removed,
the worker free for the next job. A job stuck where it reports nothing (a library call that never returns, a
read from a mount that hangs) reaches no such checkpoint, and cannot be stopped from another thread of its
process: it held its worker for good while the worker's heartbeat said all was well, and a cancel of it never
took effect. So each worker's heartbeat thread looks at its current jobs: one still running
JOB_STOP_GRACE_SECONDS after its limit, or after a cancel was asked, is recorded failed (or canceled) and the
process running it is killed. That is a prefork pool child (Celery starts another; the job's redelivered message
finds it ended and is dropped) or, in a solo pool (the GPU worker), the worker itself: it exits with
EXIT_STUCK_JOB and its supervisor (run.py's supervisord, docker-compose's restart policy) starts it again, as it
does after any crash. The files the killed process had written, whole or the temporary one it was writing, are
removed (jobs/job_writes.py), as a runner removes those of a job that fails.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from worker.errors import JobTimeLimitError

from .batch_so_far import finished_in
from .services import Services

log = logging.getLogger(__name__)

EXIT_STUCK_JOB = 75  # a solo worker's exit status after stopping a stuck job (EX_TEMPFAIL: start it again)


@dataclass(frozen=True)
class Overdue:
    job_id: str
    pid: int | None  # the process that runs it, as recorded at its start
    reason: str  # "time_limit" or "cancel"
    attempt: int  # which attempt of the job it is (its files are noted per attempt: jobs/job_writes.py)
    seconds: float  # how long it has run, or how long ago the cancel was asked


def overdue_jobs(svc: Services, worker: str, *, limit_seconds: float, grace_seconds: float,
                 now: float | None = None) -> list[Overdue]:
    """`worker`'s running jobs that started more than limit + grace seconds ago, or whose cancel was asked
    more than grace seconds ago."""
    now = time.time() if now is None else now
    out = []
    for job_id in svc.workers.current(worker):
        job = svc.jobs.get(job_id)
        if job is None or job["state"] != "running" or job.get("worker") != worker or not job.get("started_at"):
            continue
        ran = now - float(job["started_at"])
        asked = svc.jobs.cancel_requested_at(job_id)
        if asked is not None and now - asked > grace_seconds:
            out.append(Overdue(job_id, svc.workers.job_pid(worker, job_id), "cancel", job["attempts"], now - asked))
        elif ran > limit_seconds + grace_seconds:
            out.append(Overdue(job_id, svc.workers.job_pid(worker, job_id), "time_limit", job["attempts"], ran))
    return out


def _is_own_child(pid: int) -> bool:
    """Whether `pid` is a child of this process (a pool child), not a reused pid of something else."""
    import psutil

    try:
        return psutil.Process(pid).ppid() == os.getpid()
    except psutil.Error:
        return False


def _record_stop(svc: Services, job: Overdue, limit_seconds: float, finished: dict | None = None) -> bool:
    """Record the job's end, with the files a batch had finished (`finished`, kept when its writes were taken
    back); False if it had ended meanwhile (then nothing is killed)."""
    if job.reason == "cancel":
        return svc.jobs.mark_canceled(job.job_id, from_states=("running",), finished=finished)
    error = JobTimeLimitError.past(limit_seconds, stuck=True)
    return svc.jobs.fail(job.job_id, error.to_dict(), status=error.http_status, from_states=("running",),
                         finished=finished)


def stop_overdue(svc: Services, worker: str, *, limit_seconds: float, grace_seconds: float,
                 now: float | None = None, exit_process: Callable[[int], None] = os._exit) -> list[str]:
    """Record `worker`'s stuck jobs failed or canceled and kill their processes (see the module's note).

    A pool child is killed first, then the files its job wrote are taken back, then the end is recorded: a
    client woken by the end finds none of them, and a dead process writes no more. Should the job have ended
    in the meantime, nothing is taken back or recorded (the pool starts another child)."""
    stopped = []
    for job in overdue_jobs(svc, worker, limit_seconds=limit_seconds, grace_seconds=grace_seconds, now=now):
        why = (f"was canceled {job.seconds:.0f} s ago" if job.reason == "cancel"
               else f"ran {job.seconds:.0f} s, past LONGEST_JOB_SECONDS={limit_seconds:g},")
        ended_as = "canceled" if job.reason == "cancel" else "failed"
        if job.pid == os.getpid():
            finished = svc.jobs.take_back_writes(job.job_id, job.attempt)
            if not _record_stop(svc, job, limit_seconds, finished):
                continue
            log.error("job %s %s and reports nothing: it is recorded %s and this worker exits (status %d) so that "
                      "its supervisor starts it again", job.job_id, why, ended_as, EXIT_STUCK_JOB)
            for handler in logging.getLogger().handlers:
                handler.flush()
            exit_process(EXIT_STUCK_JOB)
        elif job.pid is not None and _is_own_child(job.pid):
            log.error("job %s %s and reports nothing: its pool process %d is killed", job.job_id, why, job.pid)
            os.kill(job.pid, signal.SIGKILL)
            current = svc.jobs.get(job.job_id)
            if current is None or current["state"] != "running" or current.get("attempts") != job.attempt:
                continue
            finished = svc.jobs.take_back_writes(job.job_id, job.attempt)
            if not _record_stop(svc, job, limit_seconds, finished):
                continue
        else:
            finished = finished_in(svc.jobs.get(job.job_id), job.attempt)  # read before the end clears it
            if not _record_stop(svc, job, limit_seconds, finished):
                continue
            log.error("job %s %s and reports nothing; its process (%s) is not this worker's to stop; it is "
                      "recorded %s", job.job_id, why, job.pid, ended_as)
            svc.jobs.take_back_writes(job.job_id, job.attempt, finished=finished)
        stopped.append(job.job_id)
        svc.workers.clear_current(worker, job.job_id)
    return stopped
