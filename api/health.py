"""GET /health: API up, Redis reachable (and taking writes), workers alive, queue depths, free space in the data
directory.

Without credentials: a public view for load balancers and monitors (up/down, Redis latency, queue depths,
how many workers are alive) that names no worker, host, pid or job. With valid credentials (checked and
throttled like on any route, api/auth.py): the full view with every worker's pid, queues and current jobs (an
admin sees every job id, anyone else only their own), and which database, full-text index and vector search the
library uses.
"""

from __future__ import annotations

import logging
import time

import redis
from flask import Blueprint, current_app, jsonify

from api.access import current_caller
from config import data_dir
from disk_space import disk_space
from jobs.queue_storage import QueueStorageFull
from jobs.services import services
from jobs.workers import queue_depth

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
QUEUE_KINDS = {"GPU_QUEUE": "gpu", "CPU_QUEUE": "cpu"}  # the public view names queue kinds, not queue names


@bp.get("/health")
def health():
    svc = services()
    cfg = current_app.config
    writable = True
    try:
        t0 = time.perf_counter()
        try:
            svc.redis.ping()
        except QueueStorageFull:  # valkey refuses PING with writes (MISCONF) on a full disk: up, and read from
            writable = False
            svc.redis.echo("health")
        latency_ms = (time.perf_counter() - t0) * 1000
        workers = svc.workers.all()
        stopped = [s for s in svc.workers.stopped() if not any(w["alive"] and w.get("node") == s["name"]
                                                               for w in workers)]
        queues = {kind: queue_depth(svc.redis, cfg[k]) for k, kind in QUEUE_KINDS.items()}
    except (redis.RedisError, OSError) as e:
        log.warning("health: Redis is not reachable: %s", e)  # where and why, for the operator's log only
        return jsonify({"status": "unavailable", "api": "ok",
                        "redis": {"ok": False, "error": "the job queue (Redis) is not reachable"}}), 503
    alive = [w for w in workers if w["alive"]]
    # A worker started from another checkout (an upgrade on one machine and not the next, an old copy on an extra
    # machine) takes its share of the jobs like the others and writes another code's results, said nowhere: a
    # stranger's day-old extra worker ran half the features jobs. A worker of a version before code_version: None.
    ours = {cfg[k] for k in QUEUE_KINDS}  # the workers of this service's queues: a worker of other queues runs none
    mixed = len({w.get("code_version") for w in alive if ours & set(w.get("queues") or [])}) > 1
    serving = {q for w in alive for q in w.get("queues", [])}
    missing = [k for k in QUEUE_KINDS if cfg[k] not in serving]
    kinds = {cfg[k]: kind for k, kind in QUEUE_KINDS.items()}
    try:
        space = disk_space(data_dir(cfg), min_free_mb=float(cfg["MIN_FREE_DISK_MB"]))
        disk = space.to_dict()
    except OSError as e:  # the data directory is gone or unreadable: say so, never a 500
        log.warning("health: cannot read the free space of the data directory: %s", e)
        disk = {"ok": False}
    public = {
        "status": "ok" if not missing and not stopped and not mixed and disk["ok"] and writable else "degraded",
        "api": "ok",
        # a full disk under valkey had read "Redis is not reachable", 503, while every read was served
        "redis": {"ok": True, "latency_ms": round(latency_ms, 2), **({} if writable else {
            "writable": False, "error": "the job queue's disk is full: no job can be queued until space is freed"})},
        "workers_alive": len(alive),
        "queue_depth": queues,
        "disk": disk,  # figures only: no path, not even in the full view
        # workers that stopped for good (exit status 78), and why: run.py's supervisor and systemd leave them down,
        # and /health had only shown their queue without a worker. Queue kinds here, names in the full view
        "stopped_workers": [{"queues": [kinds.get(q, "other") for q in s["queues"]], "reason": s["reason"],
                             "exit_status": s["exit_status"], "since": s["since"]} for s in stopped],
        "mixed_code_versions": mixed,  # each worker's `code_version` in the full view
    }
    who = current_caller()
    if who is None:
        return jsonify({**public, "queues_without_worker": [QUEUE_KINDS[k] for k in missing]})
    if not who.admin:  # another user's job id is theirs to know (it answers 404 to everyone else)
        for worker in workers:
            worker["current_jobs"] = [j for j in worker.get("current_jobs", []) if svc.jobs.get_for(j, who)]
    public["stopped_workers"] = [{**entry, "name": s["name"], "queues": s["queues"]}
                                 for entry, s in zip(public["stopped_workers"], stopped, strict=True)]
    return jsonify({**public, "workers": workers, "queues_without_worker": [cfg[k] for k in missing],
                    "library": library_status()})


def library_status() -> dict:
    """Which database, full-text index and vector search the library uses (or that it is unreachable)."""
    from api.library import library

    try:  # the database answers now (a stranger's dropped one read ok: true); library() logs why not
        return {"ok": True, **library(ping=True, apply_removals=False).describe()}
    except Exception:
        return {"ok": False, "error": "the library database is not reachable"}
