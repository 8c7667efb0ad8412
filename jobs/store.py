"""Job records, progress, cancel flags and worker state, all in Redis.

Used by the API (create, read, cancel) and by the workers (start, progress, finish). Records live in Redis rather
than in Celery's result backend so that `GET /jobs/<id>` is one HGETALL, survives API restarts, and carries the
fields clients read (state, progress, stage, result, error).

Every job has an owner (the user it belongs to: the caller, or for a job on a session that session's
owner). Reads for a request go through `get_for` and listings by owner (jobs/listing.py): another user's job
is invisible, as if absent; the admin sees all. Records of older versions have no owner until
jobs/migration.py gives them to the admin.

State machine (every transition is one atomic Lua call):
    queued -> running -> succeeded | failed | canceled
    queued -> canceled                       (cancel before a worker took it)
    running -> running                       (redelivery after a worker, or its pool child, died)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from types import EllipsisType
from typing import Any

import redis

from users import Caller

from . import keys, metrics, reporting
from . import record as job_record
from .batch_so_far import finished_entry, finished_in, partial_json, result_files, with_earlier
from .data_epoch import new_job_id, note_data
from .disk_reservations import DiskReservations
from .erasure import erase_session_jobs
from .estimates import kind_of
from .fairness import ActiveJobs
from .job_waits import JobWaits
from .job_writes import JobWrites
from .keys import text
from .processes import runs_elsewhere
from .record import JSON_FIELDS, SYSTEM_CANCELER, TERMINAL_STATES, decode_record, public_view, read_record
from .recovery_marks import RecoveryMarks
from .store_scripts import CANCELER_LUA, EVENT_LOG_MAX_ENTRIES, HAND_BACK_LUA, PROGRESS_LUA, START_LUA, TRANSITION_LUA
from .webhooks import WebhookQueue, WebhookRequest, events_of

log = logging.getLogger(__name__)
CACHED_STAGE = "done (cached)"  # the stage of a job answered from cached results (jobs/cache.py)
REQUEUED_STAGE = "requeued after its worker stopped"  # a queued job that has run before (its `attempts` say so)
HANDED_BACK_STAGE = "requeued after its worker was shut down"  # ... and whose last attempt is not counted as lost


class JobStore(JobWaits, RecoveryMarks):
    def __init__(self, client: redis.Redis, *, ttl_seconds: int = 30 * 24 * 3600,
                 webhooks: WebhookQueue | None = None, writes: JobWrites | None = None):
        self.r = client
        self.ttl = int(ttl_seconds)
        self.webhooks = webhooks  # where a job's start, progress and completion are queued for its webhook
        self.writes = writes  # the files of running jobs, taken back when one ends without its runner
        self._transition = self.r.register_script(TRANSITION_LUA)
        self._start = self.r.register_script(START_LUA)
        self._progress = self.r.register_script(PROGRESS_LUA)
        self._hand_back = self.r.register_script(HAND_BACK_LUA)
        self._canceler = self.r.register_script(CANCELER_LUA)
        self.active = ActiveJobs(client)  # each owner's unfinished jobs per queue: their turn and their cap
        self.disk = DiskReservations(client)  # each data directory's unfinished jobs: the results they will write

    def create(self, *, owner: str, job_type: str, session_id: str | None, queue: str, task: str,
               params: dict | None = None, job_id: str | None = None, request_id: str | None = None,
               webhook: WebhookRequest | None = None, data_dir: str | None = None, output_estimate: int = 0,
               audio_seconds: float | None = None) -> dict:
        if not owner:
            raise ValueError("a new job needs an owner")
        job_id = job_id or new_job_id()
        now = time.time()
        record: dict[str, str | int | float] = {
            "job_id": job_id, "owner": owner, "session_id": session_id or "", "type": job_type, "queue": queue,
            "task": task, "state": "queued", "progress": 0.0, "stage": "queued", "created_at": now, "attempts": 0,
            "params": json.dumps(params or {}),
            "request_id": request_id or "",  # the API request that made it: log lines carry the same id
            "output_estimate": int(output_estimate),  # bytes it will write: held while active (reserved_bytes)
            # what its run may be expected to take is measured on (jobs/estimates.py)
            "eta_kind": kind_of({"type": job_type, "params": params or {}}), "audio_seconds": audio_seconds or 0.0}
        if webhook is not None:
            record.update(webhook=webhook.url, webhook_events=json.dumps(list(webhook.events)))
        if data_dir:  # the API's data directory, where the session is: a worker on another one hands the job on
            record["data_dir"] = data_dir
        pipe = self.r.pipeline()
        pipe.hset(keys.job(job_id), mapping=record)  # type: ignore[arg-type]  # redis-py: invariant key type
        pipe.expire(keys.job(job_id), self.ttl)
        self.list_job(pipe, job_id, owner=owner, session_id=session_id, created=now)
        pipe.zadd(keys.UNPUBLISHED, {job_id: now})  # until `published`: a process may die before it publishes
        note_data(pipe, now)  # a job missing later and made before Redis's data began was lost with them
        self.active.add(pipe, owner=owner, queue=queue, job_id=job_id, created=now)
        if data_dir and output_estimate > 0:  # held against the disk's free space until it ends
            self.disk.add(pipe, data_dir=data_dir, job_id=job_id, at=now)
        pipe.execute()
        metrics.JOBS_CREATED.inc(self.r, job_type)
        return decode_record(record)

    @staticmethod
    def list_job(pipe: redis.client.Pipeline, job_id: str, *, owner: str, session_id: str | None,
                 created: float) -> None:
        """Add the job to the listings by creation time: every job's, its owner's and its session's."""
        pipe.zadd(keys.JOBS, {job_id: created})
        if owner:
            pipe.zadd(keys.owner_jobs(owner), {job_id: created})
            if session_id:
                pipe.zadd(keys.session_jobs(owner, session_id), {job_id: created})

    def get(self, job_id: str) -> dict | None:
        """The record whoever owns it (workers, recovery); requests use `get_for`."""
        raw = self.r.hgetall(keys.job(job_id))
        return read_record(raw)

    def get_for(self, job_id: str, caller: Caller) -> dict | None:
        """The record if `caller` may see it; None for another user's job, exactly as for a missing one."""
        job = self.get(job_id)
        return job if job is not None and caller.may_see(job["owner"]) else None

    def active_jobs(self, *, owner: str, session_id: str) -> list[dict]:
        """{job_id, type, state} of the session's unfinished jobs among its newest 1,000, read without their
        results (a pitch job of an hour's audio carries ~5 MB)."""
        ids = [text(i) for i in self.r.zrevrange(keys.session_jobs(owner, session_id), 0, 999)]  # type: ignore[arg-type]
        pipe = self.r.pipeline()
        for job_id in ids:
            pipe.hmget(keys.job(job_id), "type", "state", "owner")
        out = []
        for job_id, (job_type, state, job_owner) in zip(ids, pipe.execute(), strict=True):
            if state is not None and text(state) not in TERMINAL_STATES and text(job_owner or b"") == owner:
                out.append({"job_id": job_id, "type": text(job_type or b""), "state": text(state)})
        return out

    def forget_session(self, *, owner: str, session_id: str) -> int:
        """Erase the session's finished jobs, their results and histories (jobs/erasure.py); the number erased."""
        return erase_session_jobs(self.r, owner=owner, session_id=session_id)

    def _move(self, job_id: str, from_states: Iterable[str], to_state: str, *, seen: list | None = None,
              **fields: Any) -> str | None:
        """The transition (TRANSITION_LUA); with `seen` (state, worker, attempts) only if the record still has them."""
        args = [",".join(from_states), to_state]
        for k, v in fields.items():
            args += [k, json.dumps(v) if k in JSON_FIELDS else ("" if v is None else v)]
        script, args = (self._transition, args) if seen is None else (self._start, [*seen, *args])
        prev = script(keys=[keys.job(job_id), keys.events(job_id), keys.RUNNING, keys.event_log(job_id)], args=args)
        if prev and self.webhooks is not None:
            for event in events_of(to_state):
                self.queue_webhook(job_id, event)
        return prev.decode() if prev else None

    def queue_webhook(self, job_id: str, event: str, job: dict | None = None) -> None:
        """Queue `event` for the job's webhook, if it has one (a failure to queue never fails the job)."""
        try:
            job = job or self.get(job_id)
            if job is not None and job.get("webhook") and self.webhooks is not None:
                self.webhooks.enqueue(job, event, public_view(job))
        except redis.RedisError:
            log.warning("could not queue the %s webhook of job %s", event, job_id, exc_info=True)

    def start(self, job_id: str, *, worker: str, max_attempts: int,
              is_alive: Callable[[str], bool] = lambda name: False, process: str | None = None) -> str:
        """Mark running, noting `process` (the starting thread's handle, jobs/processes.py) on the record. Returns
        'run', or why not: 'gone', 'done', 'canceled', 'exhausted', 'elsewhere'.

        'elsewhere': a duplicate delivery of a job that a live worker is running now (another one, or another live
        process of this one: a sibling pool child), or that another delivery started between this one's read and its
        move (START_LUA: the move is made only on the record read).
        """
        job = self.get(job_id)
        if job is None:
            return "gone"
        if job["state"] in TERMINAL_STATES:
            return "done"
        if job["state"] == "running" and job.get("worker") and (
                is_alive(job["worker"]) if job["worker"] != worker
                else runs_elsewhere(job.get("process"), started_at=job.get("started_at"))):
            return "elsewhere"
        # a job started before and not finished: its earlier attempts ended without their runner (a killed pool
        # child's job comes back here, not through recovery, its worker living on); what they wrote goes first,
        # before a waiter can be woken by an end
        finished = None  # a batch's files finished by the last attempt that finished any: kept, and listed below
        for earlier in range(1, int(job.get("attempts") or 0) + 1):
            finished = self.take_back_writes(job_id, earlier) or finished
        # its sets stay whole: the job's end lists them (a cancel's or a failure's below, with `finished`, or the
        # started attempt's from `kept`), unless a later attempt finishes them again
        kept = {"kept": with_earlier(finished, job.get("kept"))} if finished else {}
        if self.r.exists(keys.cancel(job_id)):
            self.mark_canceled(job_id, finished=finished)
            return "canceled"
        lost = job["attempts"] - job["handed_back"]  # earlier attempts that ended with their worker's death
        if lost >= max_attempts:
            # the record counts the attempts that ran, as its message does (a killed pool child's redelivery
            # read "attempts: 3" beside "stopped 2 times" with JOB_MAX_ATTEMPTS 2)
            self.fail(job_id, {"code": "worker_lost",
                               "message": f"the worker running this job stopped {lost} times; "
                                          "not retrying again"}, finished=finished)
            return "exhausted"
        # one step, on the record as read: two deliveries taken at once had both passed the checks above and both
        # run the job. Progress starts again at 0: a redelivered job's record would otherwise show its last attempt's
        # the first attempt's start is kept beside the current one's (a retried job's wait in the queue is up to it);
        # an attempt found still running ended without its runner (a killed pool child's, a dead worker's not yet
        # re-queued): noted as lost, as a re-queue notes it
        at = time.time()
        times: dict[str, Any] = {"first_started_at": at} if job["attempts"] == 0 else {}
        if job["state"] == "running":
            times["lost_attempts"] = job_record.lost_attempts_after(job, at, heard=self.last_heard(job_id))
        if self._move(job_id, (job["state"],), "running", seen=[job["state"], job.get("worker") or "", job["attempts"]],
                      attempts=job["attempts"] + 1, stage="starting", progress=0.0, started_at=at,
                      worker=worker, process=process or "", **kept, **times):
            return "run"
        now = self.get(job_id)
        if now is None or now["state"] in TERMINAL_STATES:
            return "gone" if now is None else "done"
        if now["attempts"] != job["attempts"]:
            return "elsewhere"  # another delivery started it first
        # moved, not started (requeued by recovery: only a start counts an attempt): read again
        return self.start(job_id, worker=worker, max_attempts=max_attempts, is_alive=is_alive, process=process)

    def requeue(self, job_id: str, *, stage: str = REQUEUED_STAGE, job: dict | None = None) -> bool:
        """running -> queued, for a job whose worker (or pool child) died (the caller re-publishes it, then calls
        `published`); given the `job` as read, only if its record still has that attempt (START_LUA): a redelivery
        that started it since (its killed child's message, back through Celery) keeps it, not queued again beside it.

        It reads as queued afresh: no share, no start time (a stranger's requeued job read `queued` at 15.6 %, the
        dead attempt's share, until it ran again); `attempts` (kept) says it has run before."""
        self.r.zadd(keys.UNPUBLISHED, {job_id: time.time()})  # first: the recovering worker may die before it publishes
        seen = None if job is None else ["running", job.get("worker") or "", job["attempts"]]
        lost = {} if job is None else {"lost_attempts": job_record.lost_attempts_after(
            job, time.time(), heard=self.last_heard(job_id))}
        if self._move(job_id, ("running",), "queued", seen=seen, stage=stage, progress=0.0, started_at=None, **lost):
            return True
        self.published(job_id)
        return False

    def last_heard(self, job_id: str) -> float | None:
        """When the job's newest event was logged (its id's milliseconds): a lost attempt's last sign of life."""
        newest = self.r.xrevrange(keys.event_log(job_id), count=1)
        return int(str(text(newest[0][0] or b"0")).split("-", 1)[0]) / 1000 if newest else None

    def hand_back(self, job_id: str, *, worker: str) -> bool:
        """Note that `worker`, running the job, is being stopped gracefully (jobs/runtime.py): if the stop ends this
        attempt, it is not counted as lost. False when the job is not running there, or was noted already."""
        return bool(self._hand_back(keys=[keys.job(job_id)], args=[worker]))

    def progress(self, job_id: str, fraction: float, stage: str, *, generation: dict | None = None,
                 eta: dict | None = None) -> bool:
        """Record a running job's progress, a generation's detail (worker/llm/meter.py; none clears it) and, in the
        event, its `eta` (jobs/estimates.py), in one script. False, nothing written, when the job is not running."""
        fraction = round(min(max(float(fraction), 0.0), 1.0), 4)
        told, eta = ({"generation": generation} if generation is not None else {}), ({"eta": eta} if eta else {})
        event = json.dumps({"state": "running", "progress": fraction, "stage": stage, **told, **eta})
        return bool(self._progress(keys=[keys.job(job_id), keys.events(job_id), keys.event_log(job_id)],
                                   args=[fraction, stage, event, EVENT_LOG_MAX_ENTRIES, self.ttl, "",
                                         json.dumps(generation) if told else "", time.time()]))

    def file_finished(self, job_id: str, fraction: float, *, attempt: int, entry: dict, results: list[dict],
                      errors: list[dict]) -> bool:
        """A running batch has finished a file (`entry`: its result or its error): the record's `partial` holds
        the batch so far (jobs/batch_so_far.py) and the progress event names the file (`finished_file`; a
        progress event still, so a client that knows only those reads it as one). False, nothing written, when
        the job is not running."""
        fraction, stage = round(min(max(float(fraction), 0.0), 1.0), 4), f"finished {entry.get('filename')}"
        event = json.dumps({"state": "running", "progress": fraction, "stage": stage,
                            "finished_file": finished_entry(entry) if "code" not in entry else entry})
        partial = partial_json(attempt, results, errors)
        return bool(self._progress(keys=[keys.job(job_id), keys.events(job_id), keys.event_log(job_id)], args=[
            fraction, stage, event, EVENT_LOG_MAX_ENTRIES, self.ttl, partial, "", time.time()]))

    def succeed(self, job_id: str, result: Any, files: list[str] | None = None) -> bool:
        return self._end(job_id, ("running",), "succeeded", progress=1.0, stage="done", result=result,
                         files=files or [])

    def succeed_at_once(self, job_id: str, result: Any, *, files: list[str], stage: str = CACHED_STAGE) -> bool:
        """A queued job its request answered (cached results, the library's measurements); `stage` says how."""
        now = time.time()
        return self._end(job_id, ("queued",), "succeeded", progress=1.0, stage=stage, started_at=now,
                         first_started_at=now, result=result, files=files)

    def _end(self, job_id: str, from_states: Iterable[str], state: str, **fields: Any) -> bool:
        """Move the job to a final `state`; on success wake its waiters and count it. False if it was not
        in `from_states` (already finished, or never existed)."""
        if not self._move(job_id, from_states, state, finished_at=time.time(), **fields):
            return False
        pipe = self.r.pipeline()
        pipe.delete(keys.cancel(job_id))
        pipe.hmget(keys.job(job_id), "type", "owner", "queue", "data_dir")
        job_type, owner, queue, data_dir = pipe.execute()[-1]
        # (a process dying here leaves it in the indexes: each prunes an ended job's entry when it reads it)
        if owner and queue:
            self.active.remove(owner=text(owner), queue=text(queue), job_id=job_id)
        if data_dir:  # its results are on the disk now, or never will be: the room it held is free
            self.disk.release(data_dir=text(data_dir), job_id=job_id)
        metrics.job_finished(self.r, job_type=text(job_type or b"unknown"), state=state)
        return True

    def fail(self, job_id: str, error: dict, *, status: int = 500, from_states: Iterable[str] = ("queued", "running"),
             finished: Any = None, files: list[str] | None = None) -> bool:
        """Failed with `error` ({code, message[, details]}); `status` is the HTTP status its kind carries,
        kept for the routes that answer with the job's outcome (never shown in the public view). A batch stopped
        midway keeps what it finished as its `result` (and `files`, by default the ones it names). False if the job
        was not in `from_states` (a watchdog's stop of a running job that had ended meanwhile)."""
        return self._end(job_id, from_states, "failed", stage="failed", error=error, error_status=int(status),
                         **self._kept_sets(job_id, finished, files))

    def mark_canceled(self, job_id: str, *, finished: Any = None, files: list[str] | None = None,
                      from_states: Iterable[str] = ("queued", "running")) -> bool:
        """Canceled; a batch canceled midway keeps what it finished as its `result` (and `files`, by default the
        ones it names). False if the job was not in `from_states`."""
        return self._end(job_id, from_states, "canceled", stage="canceled", **self._kept_sets(job_id, finished, files))

    def _kept_sets(self, job_id: str, finished: Any, files: list[str] | None) -> dict:
        """A stopped batch's `result` and `files`: what it finished and earlier attempts' sets it did not redo."""
        raw = self.r.hget(keys.job(job_id), "kept")
        kept = with_earlier(finished, json.loads(raw) if raw else None)
        return {"result": kept, "files": result_files(kept) if files is None or kept is not finished else files
                } if kept else {}

    def request_cancel(self, job_id: str, *, is_alive: Callable[[str], bool] = lambda name: True,
                       by: str = SYSTEM_CANCELER) -> str | None:
        """Cancel: a queued job is canceled now; a running one at its next checkpoint, or now when its
        worker is gone (`is_alive(worker)` false: nobody would reach that checkpoint). `by`: who asked, the
        record's `canceled_by` once it is canceled (the first to ask; SYSTEM_CANCELER: the service itself).

        Returns the state the job was in ("queued", "running" = cancel requested, "orphaned" = canceled now),
        or None if it was already finished (before this request: see below).
        """
        job = self.get(job_id)
        if job is None or job["state"] in TERMINAL_STATES:
            return None
        # when it was asked (the first time): a job stuck where it never checks is stopped a grace after it
        self.r.set(keys.cancel(job_id), repr(time.time()), ex=self.ttl, nx=True)
        self._canceler(keys=[keys.job(job_id)], args=[by])  # before the end: its events carry the record with it
        if self._end(job_id, ("queued",), "canceled", stage="canceled"):
            return "queued"
        job = self.get(job_id)
        if job and job["state"] == "canceled":  # running when asked, it met a checkpoint before this read: this
            return "running"                    # request stopped it (CI twice had a 409 "already finished" here)
        if job and job["state"] == "running":
            if is_alive(job.get("worker") or ""):
                return "running"
            finished = self.take_back_writes(job_id, int(job.get("attempts") or 0))  # its worker writes no more
            return "orphaned" if self.mark_canceled(job_id, finished=finished, from_states=("running",)) else None
        self.r.delete(keys.cancel(job_id))
        return None

    def take_back_writes(self, job_id: str, attempt: int, *, finished: dict | None | EllipsisType = ...
                         ) -> dict | None:
        """Remove the files attempt `attempt` of a job wrote, ended without its runner (jobs/job_writes.py), but
        the whole sets of the files a batch had finished in it (its `partial`): a stranger's batch killed twice
        had lost the sets `partial_result` had offered. Returns that batch so far, for the job's end to keep as
        its `result` (None: no file finished). `finished`: that, read before the job's end was recorded (which
        clears it)."""
        # the sets any attempt finished stay, a later attempt's too: a dead attempt taken back while the next one
        # runs had noted the same names, which now hold the next one's files
        if finished is ...:
            job = self.get(job_id)
            keep, finished = result_files(finished_in(job)), finished_in(job, attempt)
        else:
            keep = result_files(finished)
        if self.writes is not None:
            self.writes.take_back(job_id, attempt, keep=frozenset(keep))
        return finished

    def cancel_requested(self, job_id: str) -> bool:
        return bool(self.r.exists(keys.cancel(job_id)))

    def cancel_requested_at(self, job_id: str) -> float | None:
        """When a cancel of the job was first asked (time.time()), if one was (None for an older version's flag)."""
        raw = self.r.get(keys.cancel(job_id))
        try:
            at = float(raw) if raw else None
        except ValueError:
            return None
        return at if at is not None and at > 1e9 else None  # older versions stored "1"

    def reporter(self, job_id: str, *, min_interval: float = 0.05, started_at: float | None = None,
                 limit_seconds: float | None = None, attempt: int | None = None) -> Callable[[float, str], None]:
        """A progress callback for pipelines: records progress, raises JobCanceled when asked and
        JobTimeLimitError once the job has run `limit_seconds` (LONGEST_JOB_SECONDS) since `started_at`
        (time.time() when this attempt started).

        A report is written only when its stage or its share (by a visible step) changes, a moved share at most
        once per `min_interval` seconds (jobs/reporting.py); the cancel flag is checked on every call (one EXISTS).
        """
        return reporting.reporter(self, job_id, min_interval=min_interval, started_at=started_at,
                                  limit_seconds=limit_seconds, attempt=attempt)
