"""Creating jobs: a queued record in Redis, then a Celery message to the job type's queue."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from flask import current_app, g, has_request_context

from storage import missing_file, session_not_found
from worker.errors import ConflictError, MusicAnalyzerError, NotFoundError, echo
from worker.music.merged import RunSource, earlier_result, kept_stages
from worker.options import JobOptions

from .cache import adopt, cacheable, content_digest, hits_for_all
from .erasure import withdraw_if_gone
from .gpu_routing import queue_for
from .library_index import index_job_tracks
from .queue_storage import QueueStorageFull
from .record import files_read
from .services import services
from .types import JOB_TYPES
from .webhooks import WebhookRequest

log = logging.getLogger(__name__)

LIBRARY_INDEX_TASK = "music_analyzer.library_index"  # tasks.library_index_task


def submit(job_type: str, *, owner: str, session_id: str | None, options: JobOptions,
           files: list[str] | None = None, batch: bool = False, queue: str | None = None,
           webhook: WebhookRequest | None = None, capped: bool = True, output_estimate: int | None = None,
           audio_seconds: float | None = None, asked_by: str | None = None, to_node: str | None = None) -> dict:
    """Record a queued job of `owner` and publish it to its queue (or `queue`). Returns the job record.
    `output_estimate`: the bytes it will write into the session, held against the owner's quota until it ends;
    `audio_seconds`: the length of the audio it reads (what its expected run is measured on, jobs/estimates.py).

    The owner of a job on a session is that session's owner: the worker finds the files in their folder.

    The record's params are `{"files", "batch", "options"}` for every type: the worker rebuilds the
    options with the same `from_request` call the route made; and `asked_by`, the caller, when it is not `owner` (an
    admin's ?owner=: a library question's answer names whose library it is, JobContext.asked_by). A GPU job goes to
    the GPU worker that has its model where several serve the queue (jobs/gpu_routing.py); `to_node`: to that one's.
    """
    kind = JOB_TYPES[job_type]
    if not isinstance(options, kind.options):
        raise TypeError(f"{job_type} jobs take {kind.options.__name__}, not {type(options).__name__}")
    queue = queue or current_app.config[kind.queue_setting]
    params: dict[str, Any] = {"files": list(files or []), "batch": batch, "options": options.to_dict(),
                              **({"asked_by": asked_by} if asked_by and asked_by != owner else {})}
    svc = services()
    if capped:  # (a probe is not: it asks whether the queue is served, and its answer is its wait)
        svc.jobs.active.check_room(owner=owner, queue=queue, limit=int(current_app.config["MAX_ACTIVE_JOBS_PER_USER"]))
    job = _record(job_type, owner=owner, session_id=session_id, queue=queue, params=params, webhook=webhook,
                  output_estimate=output_estimate, audio_seconds=audio_seconds)
    with ended_on_error(job["job_id"], "could not enqueue the job: the job queue did not take it"):
        # the album art it reads too (`image`): an image deleted meanwhile had been missing when the job ran
        _withdraw_if_gone(job, owner=owner, session_id=session_id, files=files_read(params))
        # its turn among the queue's users (jobs/fairness.py)
        publish(kind.task, job["job_id"], queue_for(job, svc=svc, settings=current_app.config, node=to_node),
                priority=svc.jobs.active.priority(owner=owner, queue=queue, job_id=job["job_id"]))
    # a process that dies before this line (a killed API, a lost connection) leaves the job in the store's
    # unpublished set, and a worker's recovery publishes it (jobs/runtime.py): never queued for good
    _published(job["job_id"])
    return job


def _record(job_type: str, *, owner: str, session_id: str | None, queue: str, params: dict[str, Any],
            webhook: WebhookRequest | None, output_estimate: int | None = None, audio_seconds: float | None = None
            ) -> dict:
    svc = services()
    return svc.jobs.create(owner=owner, job_type=job_type, session_id=session_id, queue=queue,
                           task=JOB_TYPES[job_type].task, params=params,
                           request_id=g.get("request_id") if has_request_context() else None,
                           webhook=webhook, data_dir=svc.sessions.identity() if session_id else None,
                           output_estimate=output_estimate or 0, audio_seconds=audio_seconds)


@contextmanager
def ended_on_error(job_id: str, why: str) -> Iterator[None]:
    """A recorded job whose queueing (or answer) fails is ended `failed` (`why`) and the error goes on; where Redis
    takes no write to end it (its disk filled meanwhile: valkey takes writes until an append to its file fails),
    the job stays queued and unpublished, and recovery queues it once Redis takes writes: the error says so, with
    its id (a 507 saying "nothing was queued" had hidden such a job, which ran once space returned and took the
    space the stranger's retry needed)."""
    try:
        yield
    except MusicAnalyzerError:  # the request's own refusal (a session deleted meanwhile: the job is erased)
        raise
    except Exception as e:
        log.error("job %s: %s", job_id, why, exc_info=True)  # the broker's error may name its URL: the log only
        try:
            services().jobs.fail(job_id, {"code": "queue_unavailable", "message": why})
        except redis.RedisError as unwritable:
            raise QueuedLaterError(job_id, disk_full=isinstance(unwritable, QueueStorageFull)) from e
        raise


def _published(job_id: str) -> None:
    """The job's message is sent: out of the unpublished set. Refused (a full disk under valkey): the job is queued
    all the same, and recovery, finding it sent or run, takes it out then (a second message finds it started)."""
    try:
        services().jobs.published(job_id)
    except redis.RedisError as e:
        log.warning("job %s was queued; its unpublished mark stays until recovery sees it: %s", job_id, e)


class QueuedLaterError(MusicAnalyzerError):
    """The job was recorded, then Redis stopped taking writes (its disk full: 507; gone: 503): neither queued nor
    ended, it is queued by a worker's recovery once Redis takes writes again."""

    def __init__(self, job_id: str, *, disk_full: bool):
        what = "the job queue's disk filled" if disk_full else "the job queue (Redis) stopped answering"
        super().__init__(f"{what} while job {job_id} was being queued: it is recorded and runs once "
                         f"{'space has been freed' if disk_full else 'Redis is back'}, unless canceled "
                         f"(DELETE /jobs/{job_id})", code="insufficient_storage" if disk_full else "redis_unavailable",
                         details={"job_id": job_id})
        self.http_status = 507 if disk_full else 503


def _withdraw_if_gone(job: dict, *, owner: str, session_id: str | None, files: list[str]) -> None:
    """Erase the job and refuse the request when a DELETE of its session, or of an upload it names, ran while it
    was created (jobs/erasure.py): 409 while the deletion runs (it may yet fail: retry), 404 once it is done."""
    if session_id is None:
        return
    svc = services()
    store = svc.sessions.of(owner)
    uploads = {name: (store.session_dir(session_id) / "uploads" / name).is_file() for name in files}
    gone = withdraw_if_gone(svc.jobs.r, owner=owner, session_id=session_id, job_id=job["job_id"],
                            session_exists=store.exists(session_id), uploads=uploads)
    if gone is None:
        return
    what = f"session {session_id!r}" if gone.what == "session" else f"{gone.what!r}"
    if gone.deleting:
        raise ConflictError(f"{what} is being deleted; retry to find out whether it is gone",
                            code="session_being_deleted" if gone.what == "session" else "file_being_deleted")
    if gone.what == "session":
        raise session_not_found(session_id)
    raise NotFoundError(f"no file {echo(gone.what)} in session {echo(session_id)}", code="file_not_found")


def publish(task_name: str, job_id: str, queue: str, *, priority: int = 0) -> None:
    """Send the Celery message for an existing job record (also recovery's re-publish); `priority` 0 is
    taken first, 9 last (jobs/fairness.py)."""
    current_app.extensions["celery"].send_task(task_name, args=[job_id], task_id=job_id, queue=queue,
                                               priority=priority)


def submit_answered(job_type: str, *, owner: str, options: JobOptions, result: dict[str, Any], stage: str,
                    webhook: WebhookRequest | None = None) -> dict:
    """A job its request has answered already (a library question the measurements answer): its record is made
    and finished at once, as a cached job's is, so it is listed, followed and webhooked like any; nothing is
    queued (a stranger's "which tracks are in E minor?" had waited 78 s behind a transcription for a worker)."""
    svc = services()
    kind = JOB_TYPES[job_type]
    params: dict[str, Any] = {"files": [], "batch": False, "options": options.to_dict()}
    job = _record(job_type, owner=owner, session_id=None, queue=current_app.config[kind.queue_setting],
                  params=params, webhook=webhook)
    with ended_on_error(job["job_id"], "could not record the answer"):
        svc.jobs.succeed_at_once(job["job_id"], result, files=[], stage=stage)
    _published(job["job_id"])
    return svc.jobs.get(job["job_id"]) or job


def _merges(job_type: str, options: JobOptions, paths: list[Path], results_dir: Path) -> bool:
    """A pitch run with `include` whose upload has an earlier result with other stages: it runs, to be merged into
    it (worker/music/merged.py); a cached copy of the stages asked for would be written over the earlier ones."""
    if job_type != "pitch":
        return False
    include = tuple(getattr(options, "include", ()))
    return any(kept_stages(earlier_result(results_dir / f"pitch_{path.stem}.json", path,
                                          RunSource(upload_sha256=content_digest(path))), include)
               for path in paths)


def submit_cached(job_type: str, *, owner: str, session_id: str, options: JobOptions, files: list[str],
                  batch: bool, webhook: WebhookRequest | None = None) -> dict | None:
    """A job answered from cached results when every file hits (jobs/cache.py): its record is made and finished
    at once, nothing is queued. None when a file misses (the caller submits as usual)."""
    svc = services()
    if not files or not cacheable(job_type, options):
        return None
    store = svc.sessions.of(owner)
    paths = [store.file_path(session_id, name, area="uploads") for name in files]
    try:
        hits = hits_for_all(svc.cache, owner=owner, job_type=job_type, options=options, audio_paths=paths,
                            root=svc.sessions, results_dir=store.results_dir(session_id))
    except FileNotFoundError:  # deleted since it was found (a stranger's race with DELETE: a 500)
        raise missing_file(store.session_dir(session_id), session_id, None) from None
    if hits is None or _merges(job_type, options, paths, store.results_dir(session_id)):
        return None
    kind = JOB_TYPES[job_type]
    params: dict[str, Any] = {"files": list(files), "batch": batch, "options": options.to_dict()}
    job = _record(job_type, owner=owner, session_id=session_id, queue=current_app.config[kind.queue_setting],
                  params=params, webhook=webhook)
    _withdraw_if_gone(job, owner=owner, session_id=session_id, files=list(files))
    results_dir = store.results_dir(session_id)
    results = [adopt(hit, audio_path=path, results_dir=results_dir) for hit, path in zip(hits, paths, strict=True)]
    result = {"batch": True, "results": results, "errors": [], "cached": True} if batch else results[0]
    written = [f for r in results for f in r.get("files", [])]
    # the adopted results are this session's now: index them as a run job's would be (never fails the request),
    # but never load the embedding model in this process (jobs/library_index.py index_later): a worker embeds
    # what the owner's library holds no vector for
    if not index_job_tracks(job, job_type, settings=current_app.config, sessions=svc.sessions, embed_new=False):
        current_app.extensions["celery"].send_task(LIBRARY_INDEX_TASK, args=[job["job_id"]],
                                                   queue=current_app.config["CPU_QUEUE"])
    with ended_on_error(job["job_id"], "could not record the cached result"):
        svc.jobs.succeed_at_once(job["job_id"], result, files=written)
    _published(job["job_id"])
    return svc.jobs.get(job["job_id"]) or job
