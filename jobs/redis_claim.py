"""Which data directory a Redis database serves: one claim per database, `ma:data-dir`.

Every queue, job record, session index and count of the service lives in one Redis database, and all of it is about
the files of one data directory. A stranger ran two trials on one host, each `run.py` with its own DATA_DIR and
REDIS_URL unset: both used the host's Redis at the default URL, database 0. They shared the queues (a worker of one
took the other's job and stopped with "does not share the service's data directory", jobs/data_dir_check.py), and
their job records, session indexes and /metrics counts mixed.

The claim is a hash: the data directory's own name (`DATA_DIR/.data-dir-id`, storage.py, the same on every machine
that mounts it), its path and host (for the messages) and when it was made. run.py writes it at start, or finds it
its own; it is refused (or, REDIS_URL unset, given an embedded server: service/redis_choice.py) on a database
claimed for another data directory. Workers of the same data directory on other machines pass: same name. Any
worker refuses to start on a database claimed for another data directory (exit status 78, make_celery.py).

The claim has no expiry: the data directory's queued jobs and records stay in the database while its service is
stopped ("queued jobs wait for the next start"), and another data directory's workers would take them and stop. It
is let go of when its data directory is known to be gone (claimed on this host, and its folder no longer holds that
name: removed, or made anew), or when run.py is told to (`--take-over-redis`). Jobs of the data directory that held
the database before are then failed by a worker that takes one (`data_dir_left`), not run, nor a cause to stop.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from storage import DATA_DIR_ID_FILE

from . import keys
from .keys import text

CLAIM_ENV = "MUSIC_ANALYZER_CLAIM_REDIS"  # "1": a worker claims an unclaimed database at start (run.py's workers)

# KEYS: the claim; ARGV: id, path, host, time, the id it may replace (""). The claim's id when another data
# directory's claim is left as it is, else nil (claimed now, or found this data directory's and its path and host
# brought up to date: its `since` stays when the data directory got the database, which tells a job that the one
# before left there from a job of a service that ignores the claim: jobs/data_dir_check.py).
CLAIM_LUA = """
local held = redis.call('HGET', KEYS[1], 'id')
if held and held ~= ARGV[1] and held ~= ARGV[5] then
  return held
end
if held ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'since', ARGV[4])
end
redis.call('HSET', KEYS[1], 'path', ARGV[2], 'host', ARGV[3])
return false
"""


@dataclass(frozen=True)
class Claim:
    data_dir_id: str
    path: str
    host: str
    since: float

    def gone(self) -> bool:
        """Its data directory is known to be gone: claimed on this host, and its folder no longer holds its name.
        On another host nothing here can tell: not gone."""
        if self.host != socket.gethostname():
            return False
        try:
            return (Path(self.path) / DATA_DIR_ID_FILE).read_text().strip() != self.data_dir_id
        except (FileNotFoundError, NotADirectoryError):
            return True
        except OSError:  # unreadable (another user's folder): it may well be in use
            return False

    def where(self) -> str:
        return self.path if self.host == socket.gethostname() else f"{self.path} on host {self.host}"


def read(client: redis.Redis) -> Claim | None:
    raw = {text(k): text(v) for k, v in client.hgetall(keys.DATA_DIR_CLAIM).items()}
    if not raw.get("id"):
        return None
    try:
        since = float(raw.get("since") or 0)
    except ValueError:
        since = 0.0
    return Claim(raw["id"], raw.get("path", "?"), raw.get("host", "?"), since)


def claim(client: redis.Redis, *, data_dir_id: str, path: Path, replacing: str = "") -> str | None:
    """Claim the database for this data directory (or bring its own claim's path and host up to date). None when it
    is this data directory's now; else the id of the other data directory that holds it (left as it is), unless that
    is `replacing`."""
    held = client.eval(CLAIM_LUA, 1, keys.DATA_DIR_CLAIM, data_dir_id, str(path), socket.gethostname(),
                       repr(time.time()), replacing)
    return text(held) if held else None


def claim_for_run(client: redis.Redis, *, data_dir_id: str, path: Path,
                  take_over: bool = False) -> tuple[Claim | None, str | None]:
    """run.py's claim at start: (the other data directory's claim that stands, or None), and a note to print when it
    took over one (its data directory gone, or `take_over`)."""
    if claim(client, data_dir_id=data_dir_id, path=path) is None:
        return None, None
    other = read(client)
    if other is None:  # let go of between the two reads
        return claim_for_run(client, data_dir_id=data_dir_id, path=path, take_over=take_over)
    gone = other.gone()
    if not (gone or take_over):
        return other, None
    if claim(client, data_dir_id=data_dir_id, path=path, replacing=other.data_dir_id) is not None:
        return read(client), None  # a third one claimed it meanwhile
    why = "that folder no longer holds that data directory" if gone else "--take-over-redis"
    return None, (f"took over the Redis database that data directory {other.where()} had claimed ({why}); a job of "
                  "it still queued there fails `data_dir_left` when a worker takes it")


def alive_workers(client: redis.Redis) -> int:
    """Workers with a live heartbeat in this database (what the messages say of the other service)."""
    names = [text(n) for n in client.smembers(keys.WORKERS)]
    if not names:
        return 0
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.exists(keys.worker(name))
    return sum(1 for alive in pipe.execute() if alive)


def describe(client: redis.Redis, other: Claim) -> str:
    """The other data directory, as the refusals name it."""
    alive = alive_workers(client)
    since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(other.since)) if other.since else "?"
    serving = (f"{alive} worker(s) of it alive now" if alive
               else "no worker of it alive now: its queued jobs and records wait there for its next start")
    return f"{other.where()} (claimed {since}; {serving})"


def worker_refusal(*, client: redis.Redis, url: str, data_dir_id: Callable[[], str | None], data_dir: Path,
                   claim_if_free: bool) -> str | None:
    """Why a worker must not start on this database (it is claimed for another data directory), or None. With
    `claim_if_free` (run.py's workers: MUSIC_ANALYZER_CLAIM_REDIS) an unclaimed database is claimed for this one.
    None too when it cannot be told (Redis away, the data directory's name unreadable): the check of each job's data
    directory (jobs/data_dir_check.py) stands behind it. `data_dir_id` is asked only where a claim is to be made
    or compared: a worker on an unclaimed database does not read DATA_DIR at start (it may be a mount not there yet,
    and each job reads the name anyway)."""
    try:
        other = None if claim_if_free else read(client)
        if not claim_if_free and other is None:
            return None
        mine = data_dir_id()
        if mine is None:
            return None
        if claim_if_free:
            if claim(client, data_dir_id=mine, path=data_dir) is None:
                return None
            other = read(client)
        if other is None or other.data_dir_id == mine:
            return None
        where = describe(client, other)
    except (redis.RedisError, OSError):
        return None
    from redis_server import masked_url

    return (f"REDIS_URL {masked_url(url)} is the Redis database of another data directory, {where}, and this "
            f"worker's DATA_DIR is {data_dir} (another {DATA_DIR_ID_FILE}): it would take that service's jobs. Set "
            "REDIS_URL to this service's database, or DATA_DIR to the shared folder that service uses "
            "(README 'Run it')")


def unclaimed_note(*, client: redis.Redis, url: str) -> str | None:
    """A warning for a worker started by hand on a database no service has claimed and no other worker serves: a
    REDIS_URL that answers but is not the service's (another database number, the host's own Redis where run.py
    runs an embedded one on another port) had left a stranger's extra worker idle for good without a word, ready and
    taking nothing, while the jobs waited for the other workers. None when it cannot be told (Redis away)."""
    try:
        if read(client) is not None or alive_workers(client) > 0:
            return None
    except redis.RedisError:
        return None
    from redis_server import masked_url

    return (f"REDIS_URL {masked_url(url)} is a database that no service has claimed and no other worker serves: "
            "this worker waits there for jobs that may never come. A run.py service claims its database at start "
            "(its banner names its Redis: 'Music Analyzer API: ... (Redis: ...)'); set REDIS_URL to that one "
            "(README 'Run it'). Under docker compose, which claims nothing, or before the service's first start, "
            "this is expected")
