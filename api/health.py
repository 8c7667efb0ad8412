"""GET /health: API up, Redis reachable, workers alive, queue depths (no auth)."""

from __future__ import annotations

import logging
import time

import redis
from flask import Blueprint, current_app, jsonify

from jobs.services import services
from jobs.workers import queue_depth

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/health")
def health():
    svc = services()
    cfg = current_app.config
    try:
        t0 = time.perf_counter()
        svc.redis.ping()
        latency_ms = (time.perf_counter() - t0) * 1000
        workers = svc.workers.all()
        queues = {q: queue_depth(svc.redis, cfg[k]) for q, k in (("gpu", "GPU_QUEUE"), ("cpu", "CPU_QUEUE"))}
    except (redis.RedisError, OSError) as e:
        log.warning("health: Redis is not reachable: %s", e)  # where and why, for the operator's log only
        return jsonify({"status": "unavailable", "api": "ok",
                        "redis": {"ok": False, "error": "Redis is not reachable"}}), 503
    alive = [w for w in workers if w["alive"]]
    serving = {q for w in alive for q in w.get("queues", [])}
    missing = [cfg[k] for k in ("GPU_QUEUE", "CPU_QUEUE") if cfg[k] not in serving]
    return jsonify({
        "status": "ok" if not missing else "degraded",
        "api": "ok",
        "redis": {"ok": True, "latency_ms": round(latency_ms, 2)},
        "workers": workers,
        "queues_without_worker": missing,
        "queue_depth": queues,
    })
