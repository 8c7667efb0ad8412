"""USER_STORAGE_MB: what one ordinary user's sessions may hold, checked before an upload's body is read and
before a job that writes results is queued (507 `storage_quota_exceeded`).

The quota counts the owner's data, whoever sends it (an admin uploading into a user's session with `?owner=`
fills that user's quota). Admins' own data has none: they run the box and MIN_FREE_DISK_MB guards it.

What counts is the bytes on disk plus what the owner's queued and running jobs will write (each job's
`output_estimate`, jobs/output_estimate.py, made when it was queued from what the upload route measured of its
files): a new job is refused when that plus its own estimate exceeds the quota, and an upload when that plus its
size does. The check had counted the disk only: three REPET separations of a 96 kHz 48 s FLAC queued at 195 MB
of 200 MB were all taken and wrote 405.9 MB (203 %). A job's estimate stops counting as it ends (succeeded,
failed, canceled; a lost or erased record counts no more either); what it wrote is then on disk. A job's check
and its record are made under a lock of the owner, so two requests at once cannot both take the last room.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import redis
from flask import current_app

from disk_space import MB
from jobs import keys
from jobs.output_estimate import estimate_output_bytes
from jobs.services import services
from storage import SessionStore, too_many_sessions, upload_description
from worker.errors import ConflictError, StorageQuotaError
from worker.options import JobOptions

log = logging.getLogger(__name__)
LOCK_SECONDS = 30  # a check and a record take milliseconds; a process that dies holding the lock frees it by then


def quota_bytes(owner: str) -> int | None:
    """The owner's quota in bytes; None where there is none (USER_STORAGE_MB 0, or an admin's data)."""
    limit_mb = float(current_app.config["USER_STORAGE_MB"])
    if limit_mb <= 0 or services().users.caller(owner).admin:
        return None
    return int(limit_mb * MB)


def usage(store: SessionStore) -> dict:
    """For GET /sessions: `used_bytes`, `quota_bytes` (null: no quota) and `reserved_bytes` (what the owner's
    queued and running jobs are expected to write)."""
    return {"used_bytes": store.used_bytes(), "quota_bytes": quota_bytes(store.owner),
            "reserved_bytes": reserved(store.owner)[1]}


def reserved(owner: str) -> tuple[int, int]:
    """(jobs, bytes): the owner's queued and running jobs and the sum of their output estimates."""
    config = current_app.config
    return services().jobs.active.reserved_bytes(owner=owner, queues=(config["CPU_QUEUE"], config["GPU_QUEUE"]))


def job_output_estimate(store: SessionStore, session_id: str, job_type: str, options: JobOptions,
                        files: Sequence[str]) -> int:
    """The bytes a job on the session will write (jobs/output_estimate.py), from each upload's description."""
    return estimate_output_bytes(job_type, options.to_dict(), [_upload_facts(store, session_id, f) for f in files])


def job_audio_seconds(store: SessionStore, session_id: str, files: Sequence[str]) -> float:
    """The seconds of audio a job on the session reads, as the upload route measured them (jobs/estimates.py);
    uploads without a description count none."""
    total = 0.0
    for name in files:
        seconds = _upload_facts(store, session_id, name).get("duration_seconds")
        total += float(seconds) if isinstance(seconds, int | float) and seconds > 0 else 0.0
    return round(total, 3)


def _upload_facts(store: SessionStore, session_id: str, name: str) -> dict:
    """What the upload route measured of the file (frames, sample_rate, channels, duration_seconds) and its
    size; only the size where there is no description (an upload of an older version)."""
    path = store.uploads_dir(session_id) / name
    try:
        described = json.loads(upload_description(path).read_text())
    except (OSError, ValueError):
        described = None
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return {**(described if isinstance(described, dict) else {}), "bytes": size}


@contextmanager
def quota_lock(owner: str) -> Iterator[None]:
    """Around a job's check and its record, for an owner with a quota: requests at the same moment take turns,
    each counting the jobs recorded before it."""
    if quota_bytes(owner) is None:
        yield
        return
    with taking_turns(keys.owner_quota_lock(owner), busy=f"other jobs of {owner} are being queued; try again"):
        yield


@contextmanager
def taking_turns(key: str, *, busy: str, seconds: float = LOCK_SECONDS) -> Iterator[None]:
    """Hold the Redis lock `key` for the block (409 `conflict`, `busy`, when it is not had within `seconds`; one
    left by a process that died, or whose release Redis refused, expires after as long)."""
    lock = services().jobs.r.lock(key, timeout=seconds, blocking_timeout=seconds)
    if not lock.acquire():
        raise ConflictError(busy, code="conflict")
    try:
        yield
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:  # held past its timeout: it has expired already
            pass
        except redis.RedisError:  # refused (the queue's disk filled meanwhile): it expires by its timeout. The
            # block's own outcome stands: a job recorded and not queued had been answered "nothing was queued"
            log.warning("could not release %s; it expires within %g s", key, seconds)


def require_session_room(store: SessionStore) -> None:
    """Before POST /sessions makes a folder: room for one more session (require_session_count), and none is made
    once the owner's quota is reached (507)."""
    require_session_count(store)
    require_quota(store, refused="no new session can be made")


def session_limit(store: SessionStore) -> int | None:
    """MAX_SESSIONS_PER_USER for an ordinary user's store; None where there is none (0, or an admin's data).
    Empty sessions are not free: each is three folders on disk and a line of GET /sessions, and a loop of POSTs
    had no end but the disk's inodes."""
    limit = int(current_app.config["MAX_SESSIONS_PER_USER"])
    return None if limit <= 0 or services().users.caller(store.owner).admin else limit


def require_session_count(store: SessionStore) -> None:
    """Early, before an upload's body is read: 409 `too_many_sessions` when the owner holds the limit already.
    What decides is the count under a lock as the session is made (SessionStore.create with `max_sessions`)."""
    limit = session_limit(store)
    if limit is not None and store.session_count() >= limit:
        raise too_many_sessions(store.owner, limit)


def require_quota(store: SessionStore, *, incoming_bytes: int = 0, job_bytes: int = 0,
                  refused: str = "no new job can start") -> None:
    """Refuse (507) what would take the owner past the quota, counting the bytes on disk and what their queued and
    running jobs will write: an upload of `incoming_bytes`, a job that will write `job_bytes`, or, with neither,
    a new session (`refused` says what) once the quota is reached."""
    quota = quota_bytes(store.owner)
    if quota is None:
        return
    used = store.used_bytes()
    jobs, pending = reserved(store.owner)
    adding = max(incoming_bytes, 0) + max(job_bytes, 0)
    projected = used + pending + adding
    if projected <= quota and (adding > 0 or projected < quota):
        return
    held = f"the sessions of {store.owner} hold {_size(used)} of their {_size(quota)} storage quota"
    if pending:
        held += f", and their {jobs} queued or running job(s) will write about {_size(pending)} more"
    if incoming_bytes > 0:
        what = f"an upload of {_size(incoming_bytes)} does not fit"
    elif job_bytes > 0:
        what = (f"this job would write about {_size(job_bytes)}, a projected use of {_size(projected)} "
                f"({100 * projected / max(quota, 1):.0f} % of the quota)")
    else:
        what = refused
    later = ", or wait for their jobs to end" if pending else ""
    raise StorageQuotaError(f"{held}: {what}; delete sessions or files to make room{later}")


def _size(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", MB), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
