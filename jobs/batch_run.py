"""A job's files one by one: a single file's result, or a batch's results and errors, keeping whole sets."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis

from worker.errors import (
    InsufficientStorageError,
    JobCanceled,
    JobSuperseded,
    JobTimeLimitError,
    MusicAnalyzerError,
    as_storage_error,
)
from worker.files import remove_stale_siblings, take_back_since, writes_so_far
from worker.progress import Progress, scaled

from .batch_so_far import result_files
from .queue_storage import QueueStorageFull

if TYPE_CHECKING:
    from .runner import JobContext

log = logging.getLogger("jobs.runner")  # the runner's log, as before this module was split from it


RunOne = Callable[..., dict]  # run_<x>(*, audio_path, results_dir, options, progress, **extra) -> result


def for_each_file(ctx: JobContext, progress: Progress, run_one: RunOne, **extra: Any) -> dict:
    """`run_one(audio_path=, results_dir=, options=, progress=, **extra)` for the job's file or files.

    A single-file job returns that file's result, with its `filename`. A batch returns `{"batch": true,
    "results": [...], "errors": [...]}` and fails only if every file failed; a file that failed (on an unexpected
    error too) is listed in `errors` and leaves no result file. A cancel, a full disk or the time limit stops the
    batch.
    """
    results_dir = ctx.results_dir()

    def one(name: str, part: Progress) -> dict:
        path = ctx.upload_path(name)
        result = run_one(audio_path=path, results_dir=results_dir, options=ctx.options, progress=part, **extra)
        # every type's result names its file (a whisper or separation batch's results had only their files' names
        # to be matched by; features, pitch and the LLM analyses said it themselves)
        result = {"filename": name, **result}
        # a run replaces its set: an earlier run's file it did not write again (a re-run without the melody
        # leaves no MIDI) would sit beside results it does not belong to
        remove_stale_siblings(results_dir, set(result.get("files") or []))
        try:  # remembered for a later request with the same audio and options (jobs/cache.py)
            ctx.services.cache.remember(owner=ctx.owner, job_type=ctx.job_type, options=ctx.options,
                                        audio_path=path, results_dir=results_dir, result=result,
                                        session_id=ctx.required_session_id(), root=ctx.services.sessions)
        except (OSError, redis.RedisError):
            log.warning("could not cache the result of %s", name, exc_info=True)
        return result

    if not ctx.batch:
        return one(ctx.files[0], progress)
    names = ctx.files or ctx.upload_names()  # none listed: a record from an older version
    results: list[dict] = []
    errors: list[dict] = []
    for i, name in enumerate(names):
        part = _one_of_many(scaled(progress, i / len(names), (i + 1) / len(names)))
        mark = len(writes_so_far())
        try:
            results.append(one(name, part))
            _file_finished(ctx, (i + 1) / len(names), results[-1], results, errors)
        except JobCanceled as e:  # the files done so far stay: each one's set is whole (a stranger lost 24)
            # and the canceled file's partial result, where its pipeline keeps one (an LLM analysis: `partial`)
            kept = [*results, {"filename": name, **e.finished}] if e.finished else results
            if kept:
                e.finished = {"batch": True, "results": kept, "errors": errors, "canceled_at": name}
            raise
        except JobSuperseded:  # another attempt runs the job: this one stops, whatever file it was on
            raise
        except (InsufficientStorageError, JobTimeLimitError) as e:
            # a full disk fails the next file too, and the job's time is up: stop here, keeping what is done
            # (a stranger's batch that met a full disk on file 3 of 8 had dropped the whole sets of files 1-2),
            # and, past the time limit, the file's partial result where its pipeline keeps one (as on a cancel)
            partial = e.finished
            kept = [*results, {"filename": name, **partial}] if partial else results
            if kept:
                e.finished = {"batch": True, "results": kept, "errors": errors, "stopped_at": name}
                # its message says what the result holds: the finished files had been named, not the partial one
                e.message = _stopped_message(e.message, name, finished=bool(results), partial=bool(partial))
            raise
        except MusicAnalyzerError as e:
            _take_back_since(mark, keep=results)  # no half set of the failed file beside the others' whole ones
            errors.append({"filename": name, **e.to_dict()})
            _file_finished(ctx, (i + 1) / len(names), errors[-1], results, errors)
        except Exception as e:
            # a writer's raw ENOSPC (or libsndfile's errno-less write error) is the same full disk: it had lost
            # the finished files 1-5 of a stranger's 6
            full = as_storage_error(e)
            if full is None:
                # a bug or an unexpected library error on one file: the others are still analysed (it had failed
                # the whole batch, dropping the sets of the files before it); the details to the log only
                log.error("job %s (file %s) crashed:\n%s", ctx.job_id, name, traceback.format_exc())
                _take_back_since(mark, keep=results)
                errors.append({"filename": name, "code": "internal_error",
                               "message": "an internal error stopped the analysis of this file; the worker's log "
                                          f"has the details (job {ctx.job_id})"})
                _file_finished(ctx, (i + 1) / len(names), errors[-1], results, errors)
                continue
            if results:
                full.finished = {"batch": True, "results": results, "errors": errors, "stopped_at": name}
                full.message = _stopped_message(full.message, name)
            raise full from e
    if not results and errors:
        raise MusicAnalyzerError(f"every file failed; first: {errors[0]['message']}", code=errors[0]["code"],
                                 details={"errors": errors})
    return {"batch": True, "results": results, "errors": errors}


def _one_of_many(progress: Progress) -> Progress:
    """A batch file's progress, but its pipeline's last stage, "done": the batch's own "finished <name>" follows
    (a whisper batch had said "done" after each of its files, the batch not done; then that stage twice)."""
    def report(fraction: float, stage: str) -> None:
        if stage != "done":
            progress(fraction, stage)
    return report


def _stopped_message(message: str, name: str, *, finished: bool = True, partial: bool = False) -> str:
    """A full disk's, a quota's or the time limit's message for a batch that keeps the files it had `finished`: not
    "nothing was stored" (a stranger's batch said so beside two finished files in its `result`); and, past the time
    limit, the `partial` result of the file it was on (a batch's message had named the finished files alone)."""
    held = [what for what, there in (("the files finished before it", finished),
                                     (f"the partial result of {name}", partial)) if there]
    kept = f"the batch stopped at {name}; {' and '.join(held)} {'are' if finished else 'is'} kept (`result`)"
    return message.replace("nothing was stored", kept) if "nothing was stored" in message else f"{message}; {kept}"


def _file_finished(ctx: JobContext, fraction: float, entry: dict, results: list[dict], errors: list[dict]) -> None:
    """Show the batch so far on the running job (a client had seen no finished file until the whole batch
    ended). Redis away for a moment: only this is not shown, the batch goes on (as with progress)."""
    try:
        ctx.services.jobs.file_finished(ctx.job_id, fraction, attempt=ctx.attempt, entry=entry, results=results,
                                        errors=errors)
    except (redis.ConnectionError, redis.TimeoutError) as e:
        if isinstance(e, QueueStorageFull):  # its disk is full: the job fails insufficient_storage
            raise
        log.warning("job %s: the files finished so far not recorded while Redis is not reachable", ctx.job_id)


def _take_back_since(mark: int, *, keep: list[dict]) -> None:
    """Remove what the batch wrote since `mark` (the failed file's set, whole or half) but the files of `keep`."""
    take_back_since(mark, keep=result_files({"results": keep}))
