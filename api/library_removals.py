"""Library removals that waited for the database.

A session or an upload deleted while the library database was down is deleted all the same (the files are
the source of truth), but its tracks had stayed in /library, listed, searched and cited, until someone ran
POST /library/reindex (a stranger's deleted session was still answered from). The removal is remembered in
Redis instead, and every library route applies what is remembered before it reads, so once the database
answers again no deleted track is ever shown.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from redis import Redis

from jobs.keys import PREFIX, text
from jobs.queue_storage import QueueStorageFull
from library.service import Library

log = logging.getLogger(__name__)


def pending_key(settings: Mapping[str, Any]) -> str:
    """One set per library database (services sharing a Redis may each have their own database)."""
    database = str(settings.get("DATABASE_URL") or Path(settings["DATA_DIR"]).resolve())
    return f"{PREFIX}library:pending-removals:{hashlib.sha256(database.encode()).hexdigest()[:16]}"


def remember(client: Redis, settings: Mapping[str, Any], *, owner: str, session_id: str,
             track_id: str | None = None) -> None:
    """The session's tracks (or the one track) are to leave the library once its database answers."""
    entry = {"owner": owner, "session_id": session_id, "track_id": track_id}
    client.sadd(pending_key(settings), json.dumps(entry, sort_keys=True))


def catch_up(client: Redis, settings: Mapping[str, Any], library: Library) -> int:
    """Apply the remembered removals; returns how many were applied. A database error propagates (the
    caller's route answers 503) and leaves the rest remembered."""
    key = pending_key(settings)
    applied = 0
    for raw in client.smembers(key):
        entry = json.loads(text(raw))
        track_ids = [entry["track_id"]] if entry.get("track_id") else []
        removed = library.store.remove(owner=entry["owner"], session_id=entry["session_id"], track_ids=track_ids)
        try:
            client.srem(key, raw)
        except QueueStorageFull:  # a full disk under valkey: applied again next time (a removal is idempotent),
            return applied       # and the read goes on (it had answered 503 "the library database ...")
        applied += 1
        log.info("library: removed %d track(s) of session %s deleted while the database was down", removed,
                 entry["session_id"])
    return applied
