"""Prometheus metrics of jobs and models, counted in whichever process does the work.

prometheus-client's multiprocess mode: every process (gunicorn workers, Celery workers and their pool
children) writes its counters and histograms to files in PROMETHEUS_MULTIPROC_DIR, and GET /metrics
sums them (api/metrics.py). run.py points every program at DATA_DIR/metrics and empties it at start.
The variable must be set before prometheus_client is imported; without it the counters stay in the
process (fine for one process, e.g. a test of this module). Levels that live in Redis (queue depths,
workers alive, resident model memory) are read at scrape time instead, so they are right whichever
machine a worker runs on.
"""

from __future__ import annotations

import os
import socket

from prometheus_client import Counter, Histogram, values


def process_identity() -> str:
    """Names this process's metric files: host and pid, because processes of several containers share the
    directory under docker-compose and each container numbers its own pids (pid 7 exists in every one);
    two processes with one file overwrite each other's counts. No '_': the collector splits file names on it."""
    return f"{socket.gethostname()}-{os.getpid()}".replace("_", "-")


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    # before any metric exists: the value class decides where each metric's numbers live
    values.ValueClass = values.MultiProcessValue(process_identifier=process_identity)

# seconds: a probe takes milliseconds, a long separation or generation many minutes
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LOAD_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)

JOBS_CREATED = Counter("ma_jobs_created", "Jobs created, by type.", ["type"])
JOBS_FINISHED = Counter("ma_jobs_finished", "Jobs that reached a final state, by type and state.", ["type", "state"])
JOB_DURATION = Histogram("ma_job_duration_seconds", "From a job's start on a worker to its end.", ["type"],
                         buckets=DURATION_BUCKETS)
JOB_QUEUE_WAIT = Histogram("ma_job_queue_wait_seconds", "From a job's creation to its start on a worker.", ["type"],
                           buckets=DURATION_BUCKETS)
MODEL_LOADS = Counter("ma_model_loads", "Models loaded, by model.", ["model"])
MODEL_UNLOADS = Counter("ma_model_unloads", "Models unloaded, by model.", ["model"])
MODEL_LOAD_SECONDS = Histogram("ma_model_load_seconds", "Seconds to load a model.", ["model"], buckets=LOAD_BUCKETS)
HTTP_REQUESTS = Counter("ma_http_requests", "HTTP requests, by route, method and status.",
                        ["route", "method", "status"])
HTTP_LATENCY = Histogram("ma_http_request_seconds", "HTTP request handling time, by route.", ["route"],
                         buckets=LATENCY_BUCKETS)
UPLOAD_BYTES = Counter("ma_upload_bytes", "Bytes of audio accepted by uploads.")
WEBHOOK_DELIVERIES = Counter("ma_webhook_deliveries", "Webhook delivery attempts, by outcome.", ["outcome"])


def job_finished(job: dict, state: str) -> None:
    """Count a finished job; `job` is its record as it was when it started (created_at, started_at)."""
    JOBS_FINISHED.labels(job["type"], state).inc()


def job_started(job: dict, started_at: float) -> None:
    if job.get("created_at"):
        JOB_QUEUE_WAIT.labels(job["type"]).observe(max(0.0, started_at - float(job["created_at"])))


def job_ran(job: dict, seconds: float) -> None:
    JOB_DURATION.labels(job["type"]).observe(max(0.0, seconds))


def model_event(event: str, model: str, seconds: float | None = None) -> None:
    """ModelManager's observer: "load" (with its seconds) or "unload" of `model`."""
    if event == "load":
        MODEL_LOADS.labels(model).inc()
        if seconds is not None:
            MODEL_LOAD_SECONDS.labels(model).observe(seconds)
    elif event == "unload":
        MODEL_UNLOADS.labels(model).inc()
