"""Creating jobs: a queued record in Redis, then a Celery message to the job type's queue."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, has_request_context

from worker.options import JobOptions

from .services import services
from .types import JOB_TYPES
from .webhooks import WebhookRequest


def submit(job_type: str, *, owner: str, session_id: str | None, options: JobOptions,
           files: list[str] | None = None, batch: bool = False, queue: str | None = None,
           webhook: WebhookRequest | None = None) -> dict:
    """Record a queued job of `owner` and publish it to its queue (or `queue`). Returns the job record.

    The owner of a job on a session is that session's owner: the worker finds the files in their folder.

    The record's params are `{"files", "batch", "options"}` for every type: the worker rebuilds the
    options with the same `from_request` call the route made.
    """
    kind = JOB_TYPES[job_type]
    if not isinstance(options, kind.options):
        raise TypeError(f"{job_type} jobs take {kind.options.__name__}, not {type(options).__name__}")
    queue = queue or current_app.config[kind.queue_setting]
    params: dict[str, Any] = {"files": list(files or []), "batch": batch, "options": options.to_dict()}
    svc = services()
    job = svc.jobs.create(owner=owner, job_type=job_type, session_id=session_id, queue=queue, task=kind.task,
                          params=params, request_id=g.get("request_id") if has_request_context() else None,
                          webhook=webhook)
    try:
        publish(kind.task, job["job_id"], queue)
    except Exception as e:
        svc.jobs.fail(job["job_id"], {"code": "queue_unavailable", "message": f"could not enqueue: {e}"})
        raise
    return job


def publish(task_name: str, job_id: str, queue: str) -> None:
    """Send the Celery message for an existing job record (also recovery's re-publish)."""
    current_app.extensions["celery"].send_task(task_name, args=[job_id], task_id=job_id, queue=queue)
