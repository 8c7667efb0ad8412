"""Runs one job inside a worker: start, progress, outcome. Never lets an error kill the worker."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import current_app

from services import services
from worker.errors import JobCanceled, MusicAnalyzerError
from worker.progress import Progress, scaled

log = logging.getLogger(__name__)

# work(job record, progress) -> result dict (with "files": [...] where files were written)
Work = Callable[[dict, Progress], dict]


def run_job(job_id: str, work: Work, *, worker: str) -> str:
    """Run `work` for the job; returns the final state (or why it did not run)."""
    svc = services()
    worker = current_app.extensions.get("worker_identity", worker)
    decision = svc.jobs.start(job_id, worker=worker, max_attempts=int(current_app.config["JOB_MAX_ATTEMPTS"]),
                              is_alive=svc.workers.is_alive)
    if decision != "run":
        log.info("job %s not run: %s", job_id, decision)
        return decision
    svc.workers.set_current(worker, job_id)
    job = svc.jobs.get(job_id)
    progress = svc.jobs.reporter(job_id)
    try:
        result = work(job, progress)
    except JobCanceled:
        svc.jobs.mark_canceled(job_id)
        return "canceled"
    except MusicAnalyzerError as e:
        log.info("job %s failed: %s", job_id, e.message)
        svc.jobs.fail(job_id, e.to_dict())
        return "failed"
    except Exception as e:  # a bug or an unexpected library error: record it, keep serving
        log.error("job %s crashed:\n%s", job_id, traceback.format_exc())
        svc.jobs.fail(job_id, {"code": "internal_error", "message": f"{type(e).__name__}: {e}"})
        return "failed"
    finally:
        svc.workers.clear_current(worker, job_id)
    svc.jobs.succeed(job_id, result, files=_files_of(result))
    return "succeeded"


def _files_of(result: Any) -> list[str]:
    if not isinstance(result, dict):
        return []
    files = list(result.get("files", []))
    for item in result.get("results", []) or []:
        if isinstance(item, dict):
            files += item.get("files", [])
    return files


def for_each_file(job: dict, progress: Progress, run_one: Callable[[Path, Path, Progress], dict]) -> dict:
    """Run `run_one(audio_path, results_dir, progress)` for the job's file, or every upload (batch).

    A single-file job returns that file's result. A batch returns
    `{"results": [...], "errors": [...]}` and fails only if every file failed.
    """
    svc = services()
    session_id = job["session_id"]
    results_dir = svc.store.results_dir(session_id)
    name = job["params"].get("file")
    if name:
        return run_one(svc.store.file_path(session_id, name, area="uploads"), results_dir, progress)
    names = svc.store.upload_names(session_id)
    results, errors = [], []
    for i, n in enumerate(names):
        part = scaled(progress, i / len(names), (i + 1) / len(names))
        try:
            results.append(run_one(svc.store.file_path(session_id, n, area="uploads"), results_dir, part))
        except JobCanceled:
            raise
        except MusicAnalyzerError as e:
            errors.append({"filename": n, **e.to_dict()})
    if not results and errors:
        raise MusicAnalyzerError(f"every file failed; first: {errors[0]['message']}", code=errors[0]["code"],
                                 details={"errors": errors})
    return {"batch": True, "results": results, "errors": errors}
