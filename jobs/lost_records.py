"""A running job whose record Redis lost meanwhile: its end writes the record again, listed as before.

A Redis that keeps nothing on disk comes back empty from a restart (redis_server.keeps_nothing). A job running across
it went on and wrote its result files, but its end found no record to write: GET /jobs/<id> answered 404 for good,
the session listed no job beside the job's files, and a client following it saw it end as `unknown`. Its runner
still holds the record it read at its start: that record, `running` again, is written back with its indexes (every
job, its owner's, its session's), and the end is recorded on it as usual (event, webhook, waiters woken).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from . import keys
from .record import JSON_FIELDS
from .store import JobStore

log = logging.getLogger(__name__)
# what the runner's copy says of the job's progress so far: its end overwrites these, the rest is as it was made
_LEFT_OUT = ("result", "error", "error_status", "partial", "kept", "finished_at", "files")


def reinstate(store: JobStore, record: dict[str, Any]) -> bool:
    """Write `record` (as its runner read it once started) back as `running` when Redis has no record of the job;
    False when it has one (nothing lost: the end had met another reason to be refused)."""
    job_id = record["job_id"]
    fields: dict[str, str] = {}
    for k, v in record.items():
        if v is None or k in _LEFT_OUT:
            continue
        fields[k] = json.dumps(v) if k in JSON_FIELDS else str(v)
    fields["state"] = "running"
    created = float(record.get("created_at") or 0.0)
    owner, session_id = record.get("owner") or "", record.get("session_id") or ""
    if not store.r.hsetnx(keys.job(job_id), "job_id", job_id):
        return False  # there is a record (written since by someone else): leave it be
    pipe = store.r.pipeline()
    pipe.hset(keys.job(job_id), mapping=fields)  # type: ignore[arg-type]  # redis-py: invariant key type
    pipe.expire(keys.job(job_id), store.ttl)
    store.list_job(pipe, job_id, owner=owner, session_id=session_id, created=created)
    pipe.execute()
    log.warning("job %s: its record was gone when it ended (Redis lost its data while it ran, a restart of a Redis "
                "that keeps nothing on disk); written again from what its worker read at its start", job_id)
    return True
