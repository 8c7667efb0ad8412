"""Owner-less data of older versions becomes the admin's, at start.

Versions before per-user data kept sessions in DATA_DIR/sessions/<id> and job records without an
`owner`. Every app start (API and workers) runs `adopt_owner_less`: under a short Redis lock, one process
moves those sessions into the heir's folder (the first name of ADMIN_USERS that is a user; the local user
when AUTH_DISABLED) and gives the jobs that owner, with the owner's indexes. Every step is idempotent, so
a second start finds nothing left: it happens once. With no admin the data stays where it is, reachable
by nobody (a job queued by an old version still runs, in its old folder), and a warning says how to
claim it.
"""

from __future__ import annotations

import logging

import redis

from storage import SessionRoot

from . import keys
from .keys import text
from .services import Services

log = logging.getLogger(__name__)

MIGRATION_LOCK_SECONDS = 120  # longer than a migration of many thousands of records takes
SCAN_BATCH = 500  # job ids read per round trip


def adopt_owner_less(svc: Services) -> None:
    try:
        if not svc.redis.set(keys.OWNER_MIGRATION_LOCK, "1", nx=True, ex=MIGRATION_LOCK_SECONDS):
            return  # another process starting now does it
        try:
            _adopt(svc)
        finally:
            svc.redis.delete(keys.OWNER_MIGRATION_LOCK)
    except (redis.RedisError, OSError) as e:
        log.warning("owner-less sessions and jobs of older versions were not checked (%s); the next start "
                    "retries", e)


def _adopt(svc: Services) -> None:
    sessions = svc.sessions.legacy_session_ids()
    jobs = owner_less_jobs(svc.redis)
    if not sessions and not jobs:
        return
    heir = svc.users.heir
    if heir is None:
        log.warning("%d owner-less session(s) and %d owner-less job(s) from an older version stay unreachable "
                    "by ordinary users: no admin is configured. Set ADMIN_USERS=<name> and restart to give "
                    "them to that admin.", len(sessions), len(jobs))
        return
    # a session the heir already has an id of stays owner-less, with its jobs: they belong together
    kept = {sid for sid in sessions if not svc.sessions.adopt_legacy(sid, heir)}
    adopted = give_jobs(svc.redis, [j for j in jobs if j[1] not in kept], heir)
    for key in list(svc.redis.scan_iter(match=keys.LEGACY_SESSION_JOBS_PATTERN, count=SCAN_BATCH)):
        if text(key) not in {keys.session_jobs("", sid) for sid in kept}:
            svc.redis.delete(key)
    why = (f"the first of ADMIN_USERS: {', '.join(svc.users.admins)}" if svc.users.admins
           else "the local user: AUTH_DISABLED is set")
    log.warning("gave %d owner-less session(s) and %d owner-less job(s) from an older version to admin %r "
                "(%s)", len(sessions) - len(kept), adopted, heir, why)
    for sid in sorted(kept):
        log.warning("owner-less session %r stays in %s: admin %r already has a session of that id; rename "
                    "one of the folders and restart", sid, _legacy_folder(svc.sessions, sid), heir)


def _legacy_folder(root: SessionRoot, session_id: str) -> str:
    return str(root.legacy_dir / session_id)


def owner_less_jobs(client: redis.Redis) -> list[tuple[str, str, float]]:
    """(job id, session id, created_at) of every job record without an owner."""
    found = []
    ids = [text(i) for i, _ in client.zscan_iter(keys.JOBS, count=SCAN_BATCH)]
    for start in range(0, len(ids), SCAN_BATCH):
        batch = ids[start:start + SCAN_BATCH]
        pipe = client.pipeline(transaction=False)
        for job_id in batch:
            pipe.hmget(keys.job(job_id), ["job_id", "owner", "session_id", "created_at"])
        for job_id, (present, owner, session_id, created) in zip(batch, pipe.execute(), strict=True):
            if present is not None and not owner:
                found.append((job_id, text(session_id or b""), float(created or 0)))
    return found


def give_jobs(client: redis.Redis, jobs: list[tuple[str, str, float]], owner: str) -> int:
    """Make `owner` the owner of these records and index them; never a record that expired or has an owner
    meanwhile (one atomic step per job)."""
    adopt = client.register_script(_ADOPT_LUA)
    adopted = 0
    for job_id, session_id, created in jobs:
        indexes = [keys.owner_jobs(owner)] + ([keys.session_jobs(owner, session_id)] if session_id else [])
        adopted += int(adopt(keys=[keys.job(job_id), *indexes], args=[owner, job_id, created]))
    return adopted


# KEYS[1] = job hash, KEYS[2..] = the owner's indexes; ARGV = owner, job id, created_at.
_ADOPT_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'owner') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
for i = 2, #KEYS do redis.call('ZADD', KEYS[i], ARGV[3], ARGV[2]) end
return 1
"""
