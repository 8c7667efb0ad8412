"""Prometheus metrics: those of the work kept in Redis (every machine), those of the API in its processes' files.

The work's counters and histograms (jobs created and finished, job durations and queue waits, model loads and
unloads, webhook deliveries) are written to Redis by whichever process does the work (jobs/cluster_metrics.py):
a Celery worker on another machine counts in GET /metrics as one on this host does. The API's own counters (HTTP
requests and their latency, upload bytes) stay in prometheus-client's multiprocess mode: every API process
writes them to files in PROMETHEUS_MULTIPROC_DIR, and GET /metrics sums them (api/metrics.py); run.py points
every program at one folder and empties it at start. The variable must be set before prometheus_client is
imported; without it the counters stay in the process (fine for one process, e.g. a test of this module).
Levels that live in Redis (queue depths, workers alive, resident model memory) are read at scrape time.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from functools import cache

import redis
from prometheus_client import Counter, Histogram, values

from .cluster_metrics import ClusterCounter, ClusterHistogram
from .record import TERMINAL_STATES


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


@cache
def _job_types() -> frozenset[str]:
    from .types import JOB_TYPES  # the options classes of every job type: not imported with this module

    return frozenset(JOB_TYPES) | {"unknown"}  # a record without its type (store.py)


WEBHOOK_OUTCOMES = frozenset({"delivered", "pending", "failed", "superseded"})
TYPE = {"type": _job_types}

# in Redis: counted by the workers of every machine (jobs/cluster_metrics.py)
JOBS_CREATED = ClusterCounter("ma_jobs_created", "Jobs created, by type.", ("type",), TYPE)
JOBS_FINISHED = ClusterCounter("ma_jobs_finished", "Jobs that reached a final state, by type and state.",
                               ("type", "state"), {**TYPE, "state": lambda: TERMINAL_STATES})
JOB_DURATION = ClusterHistogram("ma_job_duration_seconds", "From a job's start on a worker to its end.", ("type",),
                                TYPE, buckets=DURATION_BUCKETS)
JOB_QUEUE_WAIT = ClusterHistogram("ma_job_queue_wait_seconds", "From a job's creation to its start on a worker.",
                                  ("type",), TYPE, buckets=DURATION_BUCKETS)
# a model's key comes from the code's catalogs (a load that fails is not counted), never from a request
MODEL_LOADS = ClusterCounter("ma_model_loads", "Models loaded, by model.", ("model",))
MODEL_UNLOADS = ClusterCounter("ma_model_unloads", "Models unloaded, by model.", ("model",))
MODEL_LOAD_SECONDS = ClusterHistogram("ma_model_load_seconds", "Seconds to load a model.", ("model",),
                                      buckets=LOAD_BUCKETS)
WEBHOOK_DELIVERIES = ClusterCounter("ma_webhook_deliveries", "Webhook delivery attempts, by outcome.", ("outcome",),
                                    {"outcome": lambda: WEBHOOK_OUTCOMES})
CLUSTER = (JOBS_CREATED, JOBS_FINISHED, JOB_DURATION, JOB_QUEUE_WAIT, MODEL_LOADS, MODEL_UNLOADS, MODEL_LOAD_SECONDS,
           WEBHOOK_DELIVERIES)

# in this host's processes: the API's own work
HTTP_REQUESTS = Counter("ma_http_requests", "HTTP requests, by route, method and status.",
                        ["route", "method", "status"])
HTTP_LATENCY = Histogram("ma_http_request_seconds", "HTTP request handling time, by route.", ["route"],
                         buckets=LATENCY_BUCKETS)
UPLOAD_BYTES = Counter("ma_upload_bytes", "Bytes of audio accepted by uploads.")


def job_finished(client: redis.Redis, *, job_type: str, state: str) -> None:
    JOBS_FINISHED.inc(client, job_type, state)


def job_started(client: redis.Redis, job: dict, started_at: float) -> None:
    """`job` is its record as it was when it started (created_at)."""
    if job.get("created_at"):
        JOB_QUEUE_WAIT.observe(client, job["type"], value=max(0.0, started_at - float(job["created_at"])))


def job_ran(client: redis.Redis, job: dict, seconds: float) -> None:
    JOB_DURATION.observe(client, job["type"], value=max(0.0, seconds))


def model_observer(client: redis.Redis) -> Callable[[str, str, float | None], None]:
    """ModelManager's observer: "load" (with its seconds) or "unload" of `model`, counted in `client`'s Redis."""

    def observe(event: str, model: str, seconds: float | None = None) -> None:
        if event == "load":
            MODEL_LOADS.inc(client, model)
            if seconds is not None:
                MODEL_LOAD_SECONDS.observe(client, model, value=seconds)
        elif event == "unload":
            MODEL_UNLOADS.inc(client, model)

    return observe
