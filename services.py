"""The objects a request or a task needs, built once per app from its config."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from jobs import JobStore, WorkerRegistry
from redis_server import redis_client
from storage import SessionStore


@dataclass(frozen=True)
class Services:
    redis: redis.Redis
    blocking_redis: redis.Redis  # no read timeout: for BLPOP waits of up to a minute
    store: SessionStore
    jobs: JobStore
    workers: WorkerRegistry

    @classmethod
    def from_config(cls, config: dict) -> Services:
        client = redis_client(config["REDIS_URL"])
        return cls(
            redis=client,
            blocking_redis=redis_client(config["REDIS_URL"], socket_timeout=None),
            store=SessionStore(config["DATA_DIR"]),
            jobs=JobStore(client, ttl_seconds=config["JOB_TTL_SECONDS"]),
            workers=WorkerRegistry(client, heartbeat_seconds=config["HEARTBEAT_SECONDS"]),
        )


def services() -> Services:
    return current_app.extensions["music_analyzer"]
