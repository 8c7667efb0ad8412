"""The objects a request or a task needs, built once per app from its config."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from redis import Redis

from redis_server import redis_client
from storage import SessionRoot
from users import UserDirectory

from .cache import ResultCache
from .idempotency import IdempotencyKeys
from .job_writes import JobWrites
from .store import JobStore
from .throttle import LoginThrottle
from .webhooks import WebhookQueue
from .workers import ModelStatusBoard, WorkerRegistry


@dataclass(frozen=True)
class Services:
    redis: Redis
    blocking_redis: Redis  # no read timeout: for BLPOP waits of up to a minute
    sessions: SessionRoot  # every owner's session folders; `.of(owner)` is one owner's SessionStore
    jobs: JobStore
    workers: WorkerRegistry
    model_status: ModelStatusBoard
    idempotency: IdempotencyKeys
    cache: ResultCache
    users: UserDirectory
    logins: LoginThrottle

    @classmethod
    def from_config(cls, config: dict) -> Services:
        client = redis_client(config["REDIS_URL"])
        return cls(
            redis=client,
            blocking_redis=redis_client(config["REDIS_URL"], socket_timeout=None),
            sessions=SessionRoot(config["DATA_DIR"]),
            jobs=JobStore(client, ttl_seconds=config["JOB_TTL_SECONDS"], webhooks=WebhookQueue(client, config),
                          writes=JobWrites(client, config["DATA_DIR"], ttl_seconds=config["JOB_TTL_SECONDS"])),
            workers=WorkerRegistry(client, heartbeat_seconds=config["HEARTBEAT_SECONDS"]),
            model_status=ModelStatusBoard(client),
            idempotency=IdempotencyKeys(client, ttl_seconds=config["IDEMPOTENCY_TTL_SECONDS"]),
            cache=ResultCache(client),
            users=UserDirectory.from_config(config),
            logins=LoginThrottle(client, limit=config["LOGIN_FAILURE_LIMIT"],
                                 window_seconds=config["LOGIN_FAILURE_WINDOW_SECONDS"]),
        )


def services() -> Services:
    return current_app.extensions["music_analyzer"]
