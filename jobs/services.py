"""The objects a request or a task needs, built once per app from its config."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from redis import Redis

from config import env_file
from redis_server import redis_client
from storage import SessionRoot
from users import UserDirectory, UsersFile

from .cache import ResultCache
from .idempotency import IdempotencyKeys
from .job_writes import JobWrites
from .queue_position import QueuePositions
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
    user_source: UsersFile  # AUTH_USERS and ADMIN_USERS, read again when the settings file changes
    logins: LoginThrottle
    queue_positions: QueuePositions  # a queued job's `jobs_ahead`

    @property
    def users(self) -> UserDirectory:
        return self.user_source.current()

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
            user_source=UsersFile.from_config(config, env_file()),
            logins=LoginThrottle(client, limit=config["LOGIN_FAILURE_LIMIT"],
                                 window_seconds=config["LOGIN_FAILURE_WINDOW_SECONDS"]),
            queue_positions=QueuePositions(client),
        )


def services() -> Services:
    return current_app.extensions["music_analyzer"]
