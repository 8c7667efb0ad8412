"""Who is calling and what they may reach: the routes' one way to a session or a job.

The caller is the user flask-httpauth authenticated (an admin or not, per ADMIN_USERS). Sessions are
resolved per owner by the session root (storage.py), jobs checked by the job store (jobs/store.py); this
module only hands them the caller and the optional `?owner=` an admin uses to pick among users holding
the same session id. Anything the caller may not see answers 404, exactly as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request

from jobs.data_epoch import lost_message
from jobs.services import services
from storage import SessionStore, check_session_id
from users import Caller
from worker.errors import NotFoundError, echo


def current_caller() -> Caller | None:
    """The authenticated caller of this request, or None (a request to /health without credentials)."""
    users = services().users
    if users.auth_disabled:
        return users.local_caller()
    auth = current_app.extensions.get("auth")
    name = auth.current_user() if auth is not None else None
    return users.caller(name) if name else None


def caller() -> Caller:
    found = current_caller()
    if found is None:  # every route but /health requires a login first (api/auth.py)
        raise RuntimeError(f"{request.endpoint} ran without an authenticated user")
    return found


def named_owner(who: Caller) -> str | None:
    """`?owner=NAME`, when given: a user `who` may act for (themself, or anyone for an admin, a user removed from
    AUTH_USERS whose data is still here included: a stranger's admin could reach it only by session id); else 404."""
    owner = request.args.get("owner")
    if owner is None:
        return None
    svc = services()
    if owner == who.name or (who.admin and (svc.users.known(owner) or svc.sessions.holds_data_of(owner))):
        return owner
    raise NotFoundError(f"no data of owner {echo(owner)} is visible to you", code="owner_not_found")


def acting_owner() -> str:
    """Whose data a per-owner route (the library) works on: `?owner=`'s (an admin's pick), else the caller's."""
    who = caller()
    return named_owner(who) or who.name


def session(session_id: str) -> SessionStore:
    """The store holding the caller's (or, for an admin, anyone's) existing session; 404 otherwise."""
    who = caller()
    return services().sessions.resolve(session_id, who, owner=named_owner(who))


def session_for_upload(session_id: str) -> SessionStore:
    """An existing session the caller may reach, else where theirs will be made (an upload creates it)."""
    who = caller()
    return services().sessions.resolve_or_new(check_session_id(session_id), who, owner=named_owner(who))


def new_sessions() -> SessionStore:
    """Where POST /sessions makes the caller's session (an admin's own, or `?owner=`'s)."""
    who = caller()
    return services().sessions.namespace(who, owner=named_owner(who))


def job(job_id: str, *, read: Callable[[str], dict | None] | None = None) -> dict:
    """The caller's job (any job for an admin); 404 for another user's, as for a missing one.

    `read` fetches the record (default: the job store's get_for); the event stream reads it with its own Redis
    client, whose pool is sized for its thousand concurrent listeners.
    """
    found = None
    if job_id.isalnum() and len(job_id) <= 64:
        if read is None:
            found = services().jobs.get_for(job_id, caller())
        elif (record := read(job_id)) is not None and caller().may_see(record["owner"]):  # get_for's rule
            found = record
    if found is None:
        # one made before Redis's current data began was lost with them (a Redis that keeps nothing, restarted)
        lost = lost_message(job_id, services().jobs.r) if job_id.isalnum() else None
        raise NotFoundError(lost or f"no job {echo(job_id)}", code="job_not_found")
    return found


def listing_owner(session_id: str | None) -> str | None:
    """Whose jobs GET /jobs lists: the caller's; an admin's listing covers everyone (None) unless narrowed by
    `?owner=`, and for a session id the owner holding it (as GET /sessions/<id> resolves it)."""
    who = caller()
    owner = named_owner(who)
    if owner is not None or not who.admin:
        return owner or who.name
    if session_id is None:
        return None
    try:
        return services().sessions.resolve(session_id, who).owner
    except NotFoundError:  # no such folder (deleted): its jobs were forgotten with it
        return who.name
