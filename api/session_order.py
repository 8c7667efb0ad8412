"""The order of GET /sessions: by id (the default, as it always was) or `order=modified`, the most recently modified
first (a user's session of a moment ago had been on a later page, among its ids).

A session's modification time is the newest of its folder's and its `uploads/` and `results/` folders' (a file
written, renamed in or deleted changes its folder's). Listing by it stats three folders of every session of the
owner on each request (at most MAX_SESSIONS_PER_USER of them), where the order by id reads only the names; the page's
summaries are made for its own sessions alone in both orders.

The cursor of `order=modified` is opaque: `m.` and the base64url JSON of the page's last (modification time, id). The
next page continues below that position, so a session modified between two reads moves to the top (it is on a page
read before, or on the next first page) and no other session is skipped or listed twice; `m.` is no character of a
session id, so a cursor of one order given to the other is refused as 400 `invalid_cursor`, not read as a position.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os

from storage import SESSION_ID_RE, SessionStore, check_session_id
from worker.errors import InvalidRequestError, echo

ORDERS = ("id", "modified")
MODIFIED_CURSOR = "m."  # "." is in no session id (SESSION_ID_RE): the orders' cursors cannot be taken for each other


def read_order(value: str | None) -> str:
    """`?order=`: `id` (also when absent) or `modified`; anything else (an empty one too) is a 400 naming both."""
    if value in (None, "id"):
        return "id"
    if value == "modified":
        return value
    raise InvalidRequestError(f"order must be 'id' or 'modified', not {echo(value)}", code="invalid_filter",
                              details={"parameter": "order", "valid": list(ORDERS)})


def modified_time(store: SessionStore, session_id: str) -> float | None:
    """When the session last changed (its folders' newest mtime); None: it is gone (deleted meanwhile). Paths as
    strings: called for every session of an owner, where pathlib's objects had taken half the time of the stats."""
    folder = os.path.join(store.sessions_dir, check_session_id(session_id))
    times = []
    for path in (folder, folder + "/uploads", folder + "/results"):
        try:
            times.append(os.stat(path).st_mtime)
        except FileNotFoundError:
            continue
    return max(times) if times else None


def encode_cursor(modified: float, session_id: str) -> str:
    return MODIFIED_CURSOR + base64.urlsafe_b64encode(json.dumps([modified, session_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    refused = InvalidRequestError("cursor must be a next_cursor this listing gave (with the same order)",
                                  code="invalid_cursor")
    if not cursor.startswith(MODIFIED_CURSOR) or len(cursor) > 200:
        raise refused
    body = cursor[len(MODIFIED_CURSOR):]
    try:
        found = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, TypeError, binascii.Error, RecursionError) as e:
        raise refused from e
    if not (isinstance(found, list) and len(found) == 2):
        raise refused
    modified, session_id = found
    if isinstance(modified, bool) or not isinstance(modified, int | float) or not math.isfinite(modified) \
            or not isinstance(session_id, str) or not SESSION_ID_RE.fullmatch(session_id):
        raise refused
    return float(modified), session_id


def page_by_modified(store: SessionStore, *, limit: int, cursor: str) -> tuple[list[str], str | None]:
    """A page of session ids, the most recently modified first and ties by id, after `cursor` (a `next_cursor` of
    this order; "" from the start), and the next page's cursor (None: this is the last page)."""
    after = decode_cursor(cursor) if cursor else None
    timed = [(t, i) for i in store.session_ids() if (t := modified_time(store, i)) is not None]
    ordered = sorted(timed, key=lambda ti: (-ti[0], ti[1]))
    if after is not None:
        ordered = [(t, i) for t, i in ordered if t < after[0] or (t == after[0] and i > after[1])]
    page = ordered[:limit]
    return [i for _, i in page], encode_cursor(*page[-1]) if len(ordered) > limit else None
