"""run.py's Redis: REDIS_URL's database when it answers and is this data directory's (or no one's), else what then.

The database is claimed for the data directory at start (jobs/redis_claim.py). Claimed for another one:

- REDIS_URL given (the environment or `.env`): run.py refuses to start (EXIT_REDIS_CLAIMED), naming both data
  directories and what to set: the user named that database, and putting this service anywhere else would split it
  from the workers of other machines that the same `.env` points there.
- REDIS_URL unset: nobody chose the host's Redis (it merely answered at the default URL), so this data directory gets
  an embedded server of its own on a free port, with its files in DATA_DIR/redis, as when nothing answers there. The
  choice is kept (DATA_DIR/redis/own-server): later starts keep to that server, where this data directory's queued
  jobs and records are, even once the default database is free again. Not "a free db number": an empty database of
  the host's Redis may be another program's, and its number would have to be found again at every start.

An embedded server, or a Redis that does not answer yet, is claimed by run.py's workers as they start
(MUSIC_ANALYZER_CLAIM_REDIS, make_celery.py).
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from jobs import redis_claim
from redis_server import embedded_plan, free_port, masked_url, redis_answers, redis_client
from storage import SessionRoot

OWN_SERVER_FILE = "own-server"  # in DATA_DIR/redis: REDIS_URL unset, this data directory runs its own server
DEFAULT_DATABASES = 16  # Redis's and valkey's `databases` when CONFIG GET is refused


class RedisClaimed(RuntimeError):
    """REDIS_URL names a database claimed for another data directory (the message says what to do)."""


@dataclass(frozen=True)
class RedisChoice:
    url: str
    embedded_port: int | None  # an embedded server to run on this port
    note: str | None = None  # said at start (a claim taken over, an embedded server chosen)


def choose(settings: dict, data_dir: Path, *, take_over: bool = False) -> RedisChoice:
    """The Redis this run uses. Raises RedisClaimed, or SystemExit for a REDIS_URL that cannot work (embedded_plan)."""
    given = bool(settings.get("REDIS_URL_GIVEN", True))
    own = data_dir / "redis" / OWN_SERVER_FILE
    if not given and own.exists():
        port = own_port(own)
        return RedisChoice(f"redis://127.0.0.1:{port}/0", port)
    url, planned = embedded_plan(settings["REDIS_URL"])
    identity = SessionRoot(data_dir).identity()
    if planned is not None or identity is None or not redis_answers(url):
        return RedisChoice(url, planned)  # its workers claim it once it answers
    client = redis_client(url)
    try:
        other, note = redis_claim.claim_for_run(client, data_dir_id=identity, path=data_dir, take_over=take_over)
    except (redis.RedisError, OSError) as e:  # an ACL without EVAL, say: its workers try again as they start
        return RedisChoice(url, None, f"warning: could not claim REDIS_URL's database for this data directory ({e})")
    if other is None:
        return RedisChoice(url, None, note)
    if given:
        raise RedisClaimed(refusal(url, client, other, data_dir=data_dir, data_dir_id=identity))
    own.parent.mkdir(parents=True, exist_ok=True)
    port = own_port(own)
    return RedisChoice(f"redis://127.0.0.1:{port}/0", port,
                       f"the Redis at {masked_url(url)} serves another data directory, "
                       f"{redis_claim.describe(client, other)}: this one runs an embedded server of its own "
                       f"(REDIS_URL is unset; kept for later starts: {own})")


def own_port(own: Path) -> int:
    """The port of this data directory's own server: the one it had (kept in `own`) while it is free, else a new one,
    kept from then on. A new port at every start had cut off the extra workers of this host at each restart of run.py
    (their REDIS_URL names the port its banner gave), and their REDIS_URL could come to name another program's port."""
    kept = re.search(r"^port: (\d+)$", own.read_text(), re.MULTILINE) if own.exists() else None
    port = int(kept.group(1)) if kept else None
    if port is None or not port_free(port):
        port = free_port()
        own.write_text("REDIS_URL unset, and the Redis at its default URL serves another data directory: run.py runs "
                       "an embedded valkey-server for this one (README 'Run it'), on this port at every start while it "
                       f"is free. Setting REDIS_URL overrides it.\nport: {port}\n")
    return port


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as valkey binds: its own last run's TIME_WAIT is free
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def refusal(url: str, client: redis.Redis, other: redis_claim.Claim, *, data_dir: Path, data_dir_id: str) -> str:
    """What run.py says when REDIS_URL's database serves another data directory."""
    found = database_for(url, data_dir_id)
    if found is None:
        other_db = "REDIS_URL naming another database number (redis://host:port/N)"
    else:
        other_db = f"REDIS_URL={masked_url(found[0])} ({'this data directory holds it' if found[1] else 'empty now'})"
    return (f"REDIS_URL {masked_url(url)} is the Redis database of another data directory, "
            f"{redis_claim.describe(client, other)}, and this run's DATA_DIR is {data_dir}. Two data directories on "
            "one database share its queues, job records and counts (a worker of one takes the other's jobs). Not "
            f"starting. Give this one a database of its own: {other_db}; or leave REDIS_URL unset for an embedded "
            "server in this DATA_DIR; or set DATA_DIR to that data directory (a service's workers on several machines "
            f"share one). If {other.path} is no longer used: python3 run.py --take-over-redis (its queued jobs then "
            "fail `data_dir_left`)")


def with_db(url: str, db: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


def database_for(url: str, data_dir_id: str) -> tuple[str, bool] | None:
    """(URL, claimed for it already) of a database of REDIS_URL's server that this data directory may use: the one
    claimed for it, else the first empty one; None when there is none or it cannot be told (a unix socket, a Redis
    refusing SELECT)."""
    if urlsplit(url).scheme == "unix":
        return None
    try:
        count = int(redis_client(url).config_get("databases").get("databases") or DEFAULT_DATABASES)
    except (redis.RedisError, OSError, ValueError):
        count = DEFAULT_DATABASES
    empty = None
    for db in range(count):
        candidate = with_db(url, db)
        try:
            client = redis_client(candidate)
            held = redis_claim.read(client)
            if held is not None and held.data_dir_id == data_dir_id:
                return candidate, True
            if empty is None and held is None and client.dbsize() == 0:
                empty = candidate
        except (redis.RedisError, OSError):
            break
    return None if empty is None else (empty, False)
