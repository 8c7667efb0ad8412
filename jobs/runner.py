"""Runs one job inside a worker: start, progress, outcome. Never lets an error kill the worker.

Every job type goes the same way: the record's params are read back as `{"files", "batch", "options"}`,
the options rebuilt with the one call the route used (`Options.from_request(params["options"])`), and
the type's work function called with a JobContext and a progress callback.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import redis
from flask import current_app

from storage import SessionStore
from worker.errors import InsufficientStorageError, JobCanceled, JobSuperseded, MusicAnalyzerError, as_storage_error
from worker.files import drop_earlier, recording_writes, take_back
from worker.options import JobOptions

from . import metrics
from .batch_run import RunOne, for_each_file  # noqa: F401  (the work functions import them from here)
from .batch_so_far import result_files
from .data_dir_check import HandedOn, on_another_data_dir
from .estimates import Durations
from .gpu_routing import hand_on
from .host_pool import HostPool
from .library_index import index_job_tracks
from .lost_records import reinstate
from .processes import own_handle, process_token
from .queue_storage import QueueStorageFull, tidy
from .services import Services, services
from .submit import publish
from .types import JOB_TYPES, stored_params

log = logging.getLogger(__name__)
OUTCOME_WAIT_SECONDS = 15 * 60  # how long a finished job waits for a full job queue to take its outcome
MAX_RETRY_DELAY_SECONDS = 10.0  # between two tries of a write the job queue refused (the first: the setting
# QUEUE_FULL_FIRST_RETRY_SECONDS, doubling from there)
QUIET_AFTER_TRIES, LOG_EVERY_TRIES = 6, 30  # each of the first tries is logged (30 s), then 1 in 30 (5 min)
QUEUE_FULL_MESSAGE = "the job queue's disk is full: the job could not go on; retry once space has been freed"
OptionsT = TypeVar("OptionsT", bound=JobOptions)
T = TypeVar("T")


@dataclass(frozen=True)
class JobContext:
    """What a work function gets: the job's identity, its input files, its options, the app's parts."""

    job_id: str
    job_type: str
    owner: str  # the session's owner ('' for a record of an older version not yet given to an admin)
    session_id: str | None
    files: list[str]  # upload names to process (all of the session's uploads for a batch)
    batch: bool  # the request named no file: the result lists one entry per file
    options: JobOptions
    settings: Mapping[str, Any]
    services: Services
    attempt: int = 0  # which run of the job this is (its record's `attempts` once started)
    asked_by: str | None = None  # who made the job, when not its owner (an admin's ?owner=)

    @property
    def store(self) -> SessionStore:
        return self.services.sessions.of(self.owner)

    def options_as(self, cls: type[OptionsT]) -> OptionsT:
        """The options, typed as the job type's class (which they always are: the runner built them)."""
        if not isinstance(self.options, cls):
            raise TypeError(f"job {self.job_id} has {type(self.options).__name__}, not {cls.__name__}")
        return self.options

    def results_dir(self) -> Path:
        return self.store.results_dir(self.required_session_id())

    def upload_path(self, name: str) -> Path:
        return self.store.file_path(self.required_session_id(), name, area="uploads")

    def upload_names(self) -> list[str]:
        return self.store.upload_names(self.required_session_id())

    def required_session_id(self) -> str:
        if self.session_id is None:
            raise TypeError(f"job {self.job_id} has no session")
        return self.session_id


def run_job(job_id: str, job_type: str, *, worker: str) -> str:
    """Run the job; returns the final state (or why it did not run)."""
    svc = services()
    node, worker = worker, current_app.extensions.get("worker_identity", worker)
    # a job queue that refuses writes (a full disk) or is away as the job arrives (reads too: a new connection's
    # handshake is refused with the writes): waited for as long as it takes, as nothing can start a job meanwhile. The
    # error (at once; later, after the outcome's 15 min wait) had left the task, whose message was then acknowledged:
    # the job stayed `queued` for ever (or, that acknowledgement refused too, until the visibility timeout, 4 h 10 min).
    # A stop of the worker (SIGTERM) ends the wait: the message goes back to the queue, the job not begun (the wait had
    # held the stop until the supervisor killed the worker, and its message waited out the visibility timeout)
    stop = _stopping(node)
    try:
        if _while_redis_away(lambda: on_another_data_dir(svc, job_id), "starting the job", forever=True, stop=stop):
            raise HandedOn("its session is in another data directory", requeue=True)
        if _while_redis_away(lambda: _hand_on(svc, job_id, node), "starting the job", forever=True, stop=stop):
            return "handed on"  # to a GPU worker that has the model's weights (jobs/gpu_routing.py)
        # listed as this worker's job (the watchdog's handle, overdue.py) before it is recorded running: listed after,
        # a disk that filled in between (or Redis gone) left the job `running` on a live worker that did not list it
        # once the listing's 15 min wait ran out, which nothing recovered
        stale = _while_redis_away(lambda: svc.workers.set_current(worker, job_id, pid=os.getpid(),
                                                                  process=process_token()),
                                  "starting the job", forever=True, stop=stop)
        for earlier in stale:  # this process's earlier job, never ended by its runner (see Workers.set_current)
            _record_outcome(partial(_end_left_over, svc, earlier, worker=worker, next_job=job_id))
        attempts = int(current_app.config["JOB_MAX_ATTEMPTS"])
        decision = _while_redis_away(lambda: svc.jobs.start(job_id, worker=worker, max_attempts=attempts,
                                                            is_alive=svc.workers.is_alive, process=own_handle()),
                                     "starting the job", forever=True, stop=stop)
    except WorkerStopping:
        _hand_back_unstarted(svc, job_id, worker=worker)
    if decision != "run":  # the listing above may have replaced a sibling pool child's, which runs the job: put back
        tidy(lambda: svc.workers.release(worker, job_id, handle=own_handle()),
             f"taking job {job_id} off this worker's list")
        log.info("job %s not run: %s", job_id, decision)
        return decision
    try:
        return _run_started(svc, job_id, job_type, worker=worker)
    except Exception:
        # the runner's own bookkeeping failed, past the job's error handling (Redis away while a failure was
        # reported): the job was left `running` with its live worker listing it, so nothing recovered it, and the
        # watchdog later killed its pool process, then running another user's job. Its end is recorded here.
        log.error("job %s: the runner failed:\n%s", job_id, traceback.format_exc())
        failure = MusicAnalyzerError(f"an internal error stopped the job; the worker's log has the details (job "
                                     f"{job_id})", code="internal_error")
        _record_outcome(lambda: svc.jobs.fail(job_id, failure.to_dict(), status=failure.http_status))
        _record_outcome(lambda: svc.workers.clear_current(worker, job_id))
        return "failed"


def _run_started(svc: Services, job_id: str, job_type: str, *, worker: str) -> str:
    started = time.time()
    # Redis was there a moment ago (start() went through): if it has gone since, wait for it (as for the outcome)
    record = _while_redis_away(lambda: svc.jobs.get(job_id))
    # each file noted in Redis as it is written: a kill of this process leaves none of them behind
    writes, attempt = svc.jobs.writes, int((record or {}).get("attempts") or 0)
    on_write = (lambda path, becomes, restores: writes.note(job_id, attempt, path, becomes, restores=restores)
                ) if writes else None
    superseded = False
    with recording_writes(on_write=on_write) as written:
        try:
            if record is None:  # expired or deleted between start() and here
                raise MusicAnalyzerError("the job record is gone", code="job_gone")
            metrics.job_started(svc.redis, record, started)
            # a CPU pool job counts on its host while it works: the GPU worker's torch takes the cores left
            with HostPool(svc.redis, lease_seconds=svc.workers.ttl_seconds).counting(
                    job_id, record.get("queue") == current_app.config["CPU_QUEUE"]):
                result = _work(svc, record, job_type, started_at=started)
        except JobSuperseded as e:  # another attempt runs the job now: its record and its listing are that one's
            # what this attempt wrote stays: the new attempt may have written the same paths since (a pause of
            # minutes lets it finish files), and taking them back would remove its results; its own files replace
            # these, and the same job's outputs of the same input are what they would be
            superseded = True
            log.warning("%s: this attempt stopped, nothing recorded", e)
            return "superseded"
        except JobCanceled as e:
            # a canceled job leaves no result file of the file it was on (no picture without its JSON); a
            # batch keeps the sets of the files it had finished, listed with the job
            finished = e.finished
            kept = set(result_files(finished))
            take_back(written, keep=kept)
            _record_end(svc, record, lambda: svc.jobs.mark_canceled(job_id, finished=finished, files=sorted(kept)))
            if finished:
                index_job_tracks(record or {}, job_type, settings=current_app.config, sessions=svc.sessions)
            return "canceled"
        except Exception as e:
            # nor does a failed one: what it wrote may be half of a set; a batch stopped by a full disk or its
            # time limit keeps the whole sets of the files it had finished, as a canceled one does
            finished = e.finished if isinstance(e, MusicAnalyzerError) else None
            kept = set(result_files(finished))
            take_back(written, keep=kept)
            known = _known_failure(e)
            if known is None:  # a bug or an unexpected library error: the details to the log, keep serving
                log.error("job %s (request %s) crashed:\n%s", job_id, _request_of(svc, job_id),
                          traceback.format_exc())
                known = MusicAnalyzerError("an internal error stopped the job; the worker's log has the details "
                                           f"(job {job_id})", code="internal_error")
            else:
                log.info("job %s failed: %s (%s)", job_id, known.message, e)
            failure = known
            _record_end(svc, record, lambda: svc.jobs.fail(job_id, failure.to_dict(), status=failure.http_status,
                                                           finished=finished, files=sorted(kept)))
            if finished:
                index_job_tracks(record or {}, job_type, settings=current_app.config, sessions=svc.sessions)
            return "failed"
        finally:
            try:
                if superseded:  # the job's listing on this worker (if it runs here again) is the new attempt's
                    svc.workers.release(worker, job_id, handle=own_handle())
                else:
                    svc.workers.clear_current(worker, job_id)
                if writes is not None:  # what it wrote is its result, or was taken back above
                    writes.forget(job_id, attempt)
            except redis.RedisError:  # only the worker's list of current jobs: its next beat rewrites it
                log.warning("could not clear job %s from worker %s's current jobs", job_id, worker, exc_info=True)
            drop_earlier(written)  # after `forget`: a kill between the two still finds every earlier file to restore
            metrics.job_ran(svc.redis, record or {"type": job_type}, time.time() - started)
    index_job_tracks(record or {}, job_type, settings=current_app.config, sessions=svc.sessions)
    _note_duration(svc, record, time.time() - started)  # before the end: a reader woken by it finds it kept
    _record_end(svc, record, lambda: svc.jobs.succeed(job_id, result, files=result_files(result)))
    return "succeeded"


def _note_duration(svc: Services, record: dict | None, seconds: float) -> None:
    """A succeeded run's duration, for the estimates of the jobs of its kind after it (jobs/estimates.py)."""
    try:
        if record is not None:
            Durations(svc.redis).note(record, seconds)
    except redis.RedisError:  # only an estimate's history: the job's outcome is recorded
        log.warning("could not note the duration of job %s", record.get("job_id") if record else None)


def _end_left_over(svc: Services, job_id: str, *, worker: str, next_job: str) -> None:
    """Record failed a job this process had started and left listed without an end, taking back what it wrote.
    Only while it is still running here: one that ended (its listing alone was not cleared, Redis away) keeps its
    result files, and one redelivered to another worker is that worker's."""
    job = svc.jobs.get(job_id)
    if job is None or job["state"] != "running" or job.get("worker") != worker:
        return
    finished = svc.jobs.take_back_writes(job_id, job["attempts"])
    if svc.jobs.fail(job_id, {"code": "internal_error", "message": "the process running this job went on to "
                              "another without recording its end; the worker's log has the details"},
                     from_states=("running",), finished=finished):
        log.error("job %s: its process %d took job %s without recording its end; recorded failed",
                  job_id, os.getpid(), next_job)


def _known_failure(e: Exception) -> MusicAnalyzerError | None:
    """The one mapping of the job layer: the service's own errors as they are, a full disk (the data
    directory's, or the job queue's while it refuses writes) as `insufficient_storage`; None for a bug."""
    if isinstance(e, MusicAnalyzerError):
        return e
    if isinstance(e, QueueStorageFull):
        return InsufficientStorageError(QUEUE_FULL_MESSAGE)
    return as_storage_error(e)


def _record_outcome(write: Callable[[], object]) -> None:
    """Record a job's end. While the job queue refuses writes for a full disk, or is not reachable at all, wait
    for it (up to OUTCOME_WAIT_SECONDS; this worker could take no other job meanwhile): else the job would stay
    `running` once the queue was back, its worker alive and its message acknowledged, so nothing would ever
    recover it (a stranger's jobs across a 20 s Redis restart, 2 of 5 times)."""
    _while_redis_away(write)


def _record_end(svc: Services, record: dict | None, end: Callable[[], bool]) -> None:
    """Record the job's end; when its record is gone (a Redis that keeps nothing on disk restarted while it ran), write
    the record again from the runner's copy and record the end on it (jobs/lost_records.py)."""
    if _while_redis_away(end) or record is None:
        return
    if _while_redis_away(lambda: reinstate(svc.jobs, record)):
        _while_redis_away(end)


def _hand_on(svc: Services, job_id: str, node: str) -> str | None:
    from celery import current_task

    request = getattr(current_task, "request", None)
    delivered = (getattr(request, "delivery_info", None) or {}).get("routing_key")

    def send(job: dict, queue: str) -> None:
        publish(job["task"], job_id, queue,
                priority=svc.jobs.active.priority(owner=job["owner"], queue=job["queue"], job_id=job_id))

    return hand_on(svc, current_app.config, job_id, node=node, delivered_from=delivered, publish=send)


class WorkerStopping(Exception):
    """The worker began to stop (SIGTERM) while a job's start waited for the job queue."""


def _stopping(node: str) -> threading.Event | None:
    """Set once this worker (node name `node`) begins to stop: its main process' runtime's; None elsewhere (a prefork
    pool child's copy is never set, nor is an in-process runner's)."""
    from .runtime import stopping_event

    return stopping_event(current_app, node)


def _hand_back_unstarted(svc: Services, job_id: str, *, worker: str) -> NoReturn:
    """The worker is stopping before the job could start: its message goes back to the queue, the job still queued.
    While the job queue refuses writes (or is away) that hand-back is refused too, and Celery's own retries of it held
    the stop for ever (kombu's reject of a message on a new connection): the process then ends at once, leaving the
    message where a live worker's recovery puts it back on the queue once writes are taken (jobs/unacked.py)."""
    try:
        svc.redis.ping()  # valkey refuses PING with the writes (MISCONF)
    except (QueueStorageFull, redis.ConnectionError, redis.TimeoutError):
        log.warning("job %s: this worker is stopping while the job queue refuses the job's start; it stops now, and a "
                    "worker's recovery puts the job's message back on the queue once the queue takes writes", job_id)
        logging.shutdown()
        os._exit(0)  # a stop's own status: Celery's shutdown would try to hand the message back, and wait for ever
    log.warning("job %s: this worker is stopping before the job could start: its message goes back to the queue, the "
                "job still queued", job_id)
    tidy(lambda: svc.workers.release(worker, job_id, handle=own_handle()),
         f"taking job {job_id} off this worker's list")
    raise HandedOn("the worker stopped before the job could start", requeue=True)


def _while_redis_away(call: Callable[[], T], what: str = "recording the job's outcome", *, forever: bool = False,
                      stop: threading.Event | None = None) -> T:
    """`call()`, again while the job queue is away or full: up to OUTCOME_WAIT_SECONDS, or `forever`; WorkerStopping
    once `stop` is set."""
    delay, tries = min(float(current_app.config["QUEUE_FULL_FIRST_RETRY_SECONDS"]), MAX_RETRY_DELAY_SECONDS), 0
    deadline = None if forever else time.monotonic() + OUTCOME_WAIT_SECONDS
    while True:
        try:
            return call()
        except (QueueStorageFull, redis.ConnectionError, redis.TimeoutError) as e:
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            tries += 1
            if tries <= QUIET_AFTER_TRIES or tries % LOG_EVERY_TRIES == 0:  # an hour's wait is not 360 lines
                why = "disk is full" if isinstance(e, QueueStorageFull) else "Redis is not reachable"
                log.warning("the job queue's %s; %s again in %.1f s (try %d)", why, what, delay, tries)
            if (stop or threading.Event()).wait(delay):  # a backoff in production, not a test's synchronisation
                raise WorkerStopping from e
            delay = min(delay * 2, MAX_RETRY_DELAY_SECONDS)


def _work(svc: Services, job: dict, job_type: str, *, started_at: float) -> dict:
    job_id = job["job_id"]
    kind = JOB_TYPES[job_type]
    params = stored_params(job_type, job.get("params") or {})
    settings = current_app.config
    context = JobContext(job_id=job_id, job_type=job_type, owner=job["owner"], session_id=job["session_id"] or None,
                         files=params["files"], batch=params["batch"],
                         options=kind.options.from_request(params["options"], settings=settings),
                         settings=settings, services=svc, attempt=int(job.get("attempts") or 0),
                         asked_by=params.get("asked_by"))
    return kind.work()(context, svc.jobs.reporter(job_id, started_at=started_at, attempt=context.attempt,
                                                  limit_seconds=float(settings["LONGEST_JOB_SECONDS"])))


def _request_of(svc: Services, job_id: str) -> str | None:
    """The request that made the job, for the log; None when Redis cannot say (it is reporting a failure: a
    second error here must not hide the first)."""
    try:
        job = svc.jobs.get(job_id)
    except redis.RedisError:
        return None
    return job.get("request_id") if job else None
