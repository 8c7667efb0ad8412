"""USER_STORAGE_MB: what one ordinary user's sessions may hold, checked before an upload's body is read and
before a job that writes results is queued (507 `storage_quota_exceeded`).

The quota counts the owner's data, whoever sends it (an admin uploading into a user's session with `?owner=`
fills that user's quota). Admins' own data has none: they run the box and MIN_FREE_DISK_MB guards it. A job
may take its owner past the quota by its own results (a job's output is not known before it runs); the next
upload or job is then refused until sessions or files are deleted.
"""

from __future__ import annotations

from flask import current_app

from disk_space import MB
from jobs.services import services
from storage import SessionStore, too_many_sessions
from worker.errors import StorageQuotaError


def quota_bytes(owner: str) -> int | None:
    """The owner's quota in bytes; None where there is none (USER_STORAGE_MB 0, or an admin's data)."""
    limit_mb = float(current_app.config["USER_STORAGE_MB"])
    if limit_mb <= 0 or services().users.caller(owner).admin:
        return None
    return int(limit_mb * MB)


def usage(store: SessionStore) -> dict:
    """For GET /sessions: `used_bytes` and `quota_bytes` (null: no quota)."""
    return {"used_bytes": store.used_bytes(), "quota_bytes": quota_bytes(store.owner)}


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


def require_quota(store: SessionStore, *, incoming_bytes: int = 0, refused: str = "no new job can start") -> None:
    """Refuse (507) what would take the owner past the quota: an upload of `incoming_bytes`, or, with 0, any
    new job (or session: `refused` says which) once the quota is reached."""
    quota = quota_bytes(store.owner)
    if quota is None:
        return
    used = store.used_bytes()
    if used + max(incoming_bytes, 0) <= quota and (incoming_bytes > 0 or used < quota):
        return
    held = f"the sessions of {store.owner} hold {_size(used)} of their {_size(quota)} storage quota"
    what = f"an upload of {_size(incoming_bytes)} does not fit" if incoming_bytes > 0 else refused
    raise StorageQuotaError(f"{held}: {what}; delete sessions or files to make room")


def _size(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", MB), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
