"""GET /metrics (Prometheus text format) and the HTTP request counters behind it.

The work's counters and histograms (jobs, models, webhook deliveries) and the levels (queue depths, workers
alive, jobs running, resident model memory) are read from Redis at scrape time, so they hold for workers on
other machines too; the API's own counters (HTTP, uploads) come from this host's processes through
prometheus-client's multiprocess files (jobs/metrics.py). The route needs credentials unless METRICS_PUBLIC is
set (a scraper on a private network).

Redis away at scrape time: the scrape still answers 200 with this host's counters and `ma_redis_up 0`, without the
families read from Redis (it had answered 503 as a whole, so a Prometheus lost the API's own HTTP counts exactly when
they told what was wrong); `ma_redis_up 1` when Redis answered.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator

import redis
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from jobs import metrics
from jobs.cluster_metrics import ClusterCollector
from jobs.services import Services
from jobs.workers import queue_depth

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)


class RedisLevels(Collector):
    """Gauges read from Redis when scraped."""

    def __init__(self, services: Services, queues: dict[str, str]):
        self.services = services
        self.queues = queues  # label -> queue name

    def collect(self) -> Iterator[GaugeMetricFamily]:
        svc = self.services
        depth = GaugeMetricFamily("ma_queue_depth", "Messages waiting in a queue.", labels=["queue"])
        for label, name in self.queues.items():
            depth.add_metric([label], queue_depth(svc.redis, name))
        yield depth
        workers = svc.workers.all()
        alive = GaugeMetricFamily("ma_workers_alive", "Workers with a live heartbeat, by queue.", labels=["queue"])
        for label, name in self.queues.items():
            alive.add_metric([label], sum(1 for w in workers if w["alive"] and name in w.get("queues", [])))
        yield alive
        yield GaugeMetricFamily("ma_jobs_running", "Jobs running now.", value=len(svc.jobs.running_ids()))
        yield self._model_memory()

    def _model_memory(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily("ma_model_resident_bytes", "Weights of the resident models, by model.",
                                   labels=["model"])
        status = self.services.model_status.read(self.queues.get("gpu")) or {}  # this service's GPU workers
        for row in status.get("models", []):
            if row.get("loaded"):
                family.add_metric([row["model_type"]], float((row.get("memory") or {}).get("weights_bytes") or 0))
        for row in status.get("audio_models", []):
            family.add_metric([row["key"]], float((row.get("memory") or {}).get("weights_bytes") or 0))
        return family


def scrape_registry(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # None: registered nowhere; only the filter below reads it
        local: Collector | CollectorRegistry = multiprocess.MultiProcessCollector(None)
    else:  # one process: its own counters
        local = REGISTRY
    in_redis = frozenset(family.name for family in metrics.CLUSTER)
    registry.register(_Local(local, without=in_redis))
    svc = app.extensions["music_analyzer"]
    cfg = app.config
    registry.register(RedisBacked((ClusterCollector(svc.redis, metrics.CLUSTER),
                                   RedisLevels(svc, {"gpu": cfg["GPU_QUEUE"], "cpu": cfg["CPU_QUEUE"]}))))
    return registry


class RedisBacked(Collector):
    """The families read from Redis, all or none, and `ma_redis_up` saying which.

    Collected into a list first: a Redis lost half-way through a scrape gives none of them rather than some (a
    counter missing from one scrape is a gap to Prometheus; one whose sibling histogram is missing is a lie)."""

    def __init__(self, parts: tuple[Collector, ...]):
        self.parts = parts
        self._away = False  # said once per outage in the log, not at every scrape
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        try:
            families: list[Metric] = [family for part in self.parts for family in part.collect()]
            up = True
        except (redis.RedisError, OSError) as e:
            families, up = [], False
            self._note(away=True, error=e)
        else:
            self._note(away=False)
        yield GaugeMetricFamily("ma_redis_up", "1 when Redis answered this scrape; 0 when it did not, and the job, "
                                "queue, worker, model and webhook families (kept in Redis) are missing from it.",
                                value=1.0 if up else 0.0)
        yield from families

    def _note(self, *, away: bool, error: Exception | None = None) -> None:
        with self._lock:
            changed, self._away = self._away != away, away
        if changed and away:
            log.warning("GET /metrics: Redis did not answer (%s); scrapes give this host's counters and "
                        "ma_redis_up 0 until it does", error)
        elif changed:
            log.info("GET /metrics: Redis answers again")


class _Local(Collector):
    """This host's counters, less the metrics kept in Redis: a process of an earlier version still writing them
    to the shared folder (a rolling upgrade) would otherwise add a second family of the same name."""

    def __init__(self, source: Collector | CollectorRegistry, *, without: frozenset[str]):
        self.source = source
        self.without = without

    def collect(self) -> Iterator:
        return (family for family in self.source.collect() if family.name not in self.without)


@bp.get("/metrics")
def scrape():
    registry = current_app.extensions.get("metrics_registry")
    if registry is None:  # made once per process (setdefault's argument had been built at every scrape)
        registry = current_app.extensions.setdefault("metrics_registry", scrape_registry(current_app))
    # as given: `mimetype` would add a second charset to the one it holds (Prometheus 3 refuses the pair)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


def init_http_metrics(app: Flask) -> None:
    @app.before_request
    def started() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        # the route's pattern, not the path: ids would make a series per job
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        # the methods HTTP defines, any other as one: a stranger's 6,000 made-up methods (answered 401) had made
        # as many series, and /metrics and its shared-memory files grew with each
        method = request.method if request.method in HTTP_METHODS else "other"
        metrics.HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        if "metrics_started" in g:
            metrics.HTTP_LATENCY.labels(route).observe(time.perf_counter() - g.metrics_started)
        return response
