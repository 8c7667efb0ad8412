"""/library/...: the caller's indexed tracks: filters, lyric/semantic/hybrid search, similar tracks, questions.

Every route is scoped to the caller: another user's track answers 404 like a missing one. Listings are
paged with an opaque cursor (`limit`, `cursor` -> `next_cursor`) like GET /jobs.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
import sqlite3
from typing import Any

import redis
from flask import Blueprint, current_app, jsonify, request

from api import access
from api.auto_check import auto_choice
from api.context import known_params, page_limit
from api.creation import FILELESS_ROUTE_KEYS, answer, create_job
from api.errors import error_response
from api.library_removals import catch_up
from api.models import MODEL_WAIT_MAX_SECONDS, require_weights, run_and_wait
from api.process import json_body, options_of
from jobs.services import services
from library.ask import ANSWERED_STAGE, NOTHING_STAGE, measured_answer, unmatched_answer, whose_library
from library.options import AskOptions, ReindexOptions
from library.question_facts import question_facts
from library.service import Library, library_for
from library.store import TrackFilter
from storage import check_session_id
from worker.camelot import keys_for, parse_key
from worker.errors import (
    DISK_FULL_MESSAGE,
    NO_SPACE_ERRNOS,
    InsufficientStorageError,
    InvalidRequestError,
    MusicAnalyzerError,
    NotFoundError,
    echo,
)
from worker.llm.choice import AUTO
from worker.options import printable_chars

bp = Blueprint("library", __name__, url_prefix="/library")
log = logging.getLogger(__name__)
SEARCH_MODES = ("lyrics", "semantic", "hybrid")
MAX_SEARCH_OFFSET = 200  # a search ranks at most this many hits; pages are cut from them
MAX_QUERY_CHARS = 500
METRE_RE = re.compile(r"(\d{1,2})/(1|2|4|8|16|32)")  # what the analysis writes: 4/4, 3/4, 6/8, 12/8


class LibraryUnavailableError(MusicAnalyzerError):
    code = "library_unavailable"
    http_status = 503


def library(*, ping: bool = False, apply_removals: bool = True) -> Library:
    """This process' library; `ping`: the database answers now (a route that queues work asks first);
    `apply_removals`: first make the removals that waited for the database (a route about to read; not /health,
    which reports on the database alone)."""
    try:
        found = library_for(current_app.config)
        if ping:
            found.db.query("SELECT 1")
        if apply_removals:  # what was deleted while the database was down
            catch_up(services().redis, current_app.config, found)
        return found
    except (MusicAnalyzerError, redis.RedisError):  # Redis's own errors are Redis's: 503 redis_unavailable
        raise                                        # (Redis down had read "the library database is not reachable")
    except Exception as e:  # the database is down or unreachable: the details to the log only
        log.warning("library database unavailable: %s", e)
        if disk_full(e):  # a stranger's full disk had read "not reachable; retry shortly"
            raise InsufficientStorageError(f"the library database cannot be written: {DISK_FULL_MESSAGE}") from e
        raise LibraryUnavailableError("the library database is not reachable; retry shortly") from e


def database_went_away(e: Exception):
    """The database stopped answering after the library was opened (a server stopped, a database made to refuse
    connections): 503 like one that never answered; a stranger's listing had answered 500 `internal_error`."""
    log.warning("library database unavailable: %s", e)
    if disk_full(e):
        failure: MusicAnalyzerError = InsufficientStorageError(f"the library database cannot be written: "
                                                               f"{DISK_FULL_MESSAGE}")
    else:
        failure = LibraryUnavailableError("the library database is not reachable; retry shortly")
    return error_response(failure.http_status, failure.code, failure.message)


bp.register_error_handler(sqlite3.OperationalError, database_went_away)


@bp.record
def _postgres_errors(state) -> None:
    """psycopg's OperationalError too, in an app whose library is PostgreSQL (DATABASE_URL): psycopg is imported then
    only, not with every API, worker and run.py start (~0.1 s of CPU each); with SQLite no route can raise it."""
    if not state.app.config.get("DATABASE_URL"):
        return
    try:
        import psycopg
    except ImportError:  # a requirement; the library's connection says it is missing
        return
    state.app.error_handler_spec[state.name][None][psycopg.OperationalError] = database_went_away


def disk_full(e: BaseException) -> bool:
    """Whether the database failed for want of space: SQLite's "database or disk is full", PostgreSQL's
    DiskFull (53100), or the filesystem's ENOSPC/EDQUOT."""
    if isinstance(e, OSError) and e.errno in NO_SPACE_ERRNOS:
        return True
    return type(e).__name__ == "DiskFull" or (isinstance(e, sqlite3.OperationalError) and "full" in str(e))


TRACK_PARAMS = frozenset({"session_id", "key", "key_relation", "tempo_min", "tempo_max", "tempo_multiples", "metre",
                          "duration_min", "duration_max", "loudness_min", "loudness_max", "has_vocals", "content",
                          "limit", "cursor", "owner"})
SEARCH_PARAMS = frozenset({"q", "mode", "content", "limit", "cursor", "owner"})


@bp.get("/tracks")
def list_tracks():
    """The caller's tracks ordered by session and file, filtered (see the OpenAPI description)."""
    args = request.args
    known_params(TRACK_PARAMS)
    where = TrackFilter(
        session_id=_session_id(), camelot=_key_filter(), tempo_min=_number("tempo_min", 1, 1000),
        tempo_max=_number("tempo_max", 1, 1000), tempo_multiples=_flag("tempo_multiples", True),
        metre=_metre(), duration_min=_number("duration_min", 0, 1e6), duration_max=_number("duration_max", 0, 1e6),
        loudness_min=_number("loudness_min", -200, 50), loudness_max=_number("loudness_max", -200, 50),
        has_vocals=_flag("has_vocals", None), content=_content())
    _needs_partner(args)
    for lo, hi in (("tempo_min", "tempo_max"), ("duration_min", "duration_max"), ("loudness_min", "loudness_max")):
        low, high = getattr(where, lo), getattr(where, hi)
        if low is not None and high is not None and low > high:  # an empty list would read as "no such tracks"
            raise InvalidRequestError(f"{lo} is above {hi}", code="invalid_filter")
    limit = page_limit(50, 200)
    after = _cursor_pair(args.get("cursor"))
    rows = library().list_tracks(owner=access.acting_owner(), where=where, after=after, limit=limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    cursor = _encode([page[-1]["session_id"], page[-1]["filename"]]) if more and page else None
    return jsonify({"tracks": page, "next_cursor": cursor})


@bp.get("/tracks/<track_id>")
def get_track(track_id: str):
    owner = access.acting_owner()
    track = library().store.get(owner=owner, track_id=track_id)
    if track is None:
        raise NotFoundError(f"no track {echo(track_id)} in {_whose(owner)}", code="track_not_found")
    return jsonify(track)


@bp.get("/tracks/<track_id>/similar")
def similar(track_id: str):
    """Nearest tracks by weighted audio descriptors; `mix=1`: only those a DJ could mix into."""
    owner = access.acting_owner()
    result = library().similar(owner=owner, track_id=track_id, limit=page_limit(10, 100),
                               mix=bool(_flag("mix", False)), whose=_whose(owner))
    return jsonify(result)


@bp.get("/search")
def search():
    args = request.args
    known_params(SEARCH_PARAMS)
    query = (args.get("q") or "").strip()
    # whitespace and control characters alone are no text, as for /library/ask's question (a stranger's q=%00%01
    # was searched, and answered 200 with nothing)
    if not printable_chars(query) or len(query) > MAX_QUERY_CHARS:
        raise InvalidRequestError(f"q must be 1-{MAX_QUERY_CHARS} characters of text (not only whitespace or "
                                  "control characters)", code="invalid_query")
    mode = args.get("mode", "hybrid")
    if mode not in SEARCH_MODES:
        raise InvalidRequestError(f"mode must be one of {', '.join(SEARCH_MODES)}", code="invalid_query",
                                  details={"valid": list(SEARCH_MODES)})
    content = _content()  # as /library/tracks reads it: the same values, the same 400
    limit = page_limit(10, 50)
    offset = _cursor_offset(args.get("cursor"))
    owner = access.acting_owner()
    hits = library().search(owner=owner, query=query, mode=mode, limit=min(offset + limit + 1, MAX_SEARCH_OFFSET),
                            content=content)
    page = hits[offset:offset + limit]
    more = len(hits) > offset + limit and offset + limit < MAX_SEARCH_OFFSET
    # what was searched: a stranger's library of instrumental game tracks answered "nothing found" to "C minor"
    # with no word that search reads transcripts, lyrics and analyses only, none of which those tracks had
    # (of the tracks of that content where a search is kept to them: the tracks it searched)
    tracks, with_text = library().text_counts(owner=owner, content=content)
    # the key, tempo and metre the text names, read as /library/ask reads a question: the CLI's "nothing found"
    # shows the `library list` that filters on them (it had shown 'A minor' 100-120 BPM 4/4 whatever was asked)
    facts = question_facts(query)
    return jsonify({"query": query, "mode": mode, "content": content, "results": page,
                    "next_cursor": _encode(offset + limit) if more else None,
                    "tracks": tracks, "tracks_with_text": with_text,
                    "measured_filter": facts.as_dict() if facts else None})


@bp.post("/ask")
def ask():
    body = json_body()
    options = options_of(AskOptions, body, route_keys=FILELESS_ROUTE_KEYS, wait_limit=MODEL_WAIT_MAX_SECONDS)
    if options.model_type == AUTO:  # 409 now if no model of the ask order can run here or on a live GPU worker
        auto_choice("ask")
    elif options.model_type is not None:
        require_weights(options.model_type)
    owner, asker = access.acting_owner(), access.caller().name
    whose = _whose(owner)
    # a question the measurements answer alone is answered here, its job recorded finished: no worker is waited for
    found = measured_answer(library(), owner=owner, question=options.question, whose=whose)
    stage = ANSWERED_STAGE
    if found is None:  # nor one nothing in the library matches: the search says so as it would in the worker
        found, stage = unmatched_answer(library(), owner=owner, question=options.question, whose=whose), NOTHING_STAGE
    return run_and_wait("library_ask", options, body, owner=owner, asked_by=asker if asker != owner else None,
                        answer=(found, stage) if found is not None else None)


@bp.post("/reindex")
def reindex():
    body = json_body()
    options = options_of(ReindexOptions, body, route_keys=FILELESS_ROUTE_KEYS)
    library(ping=True)  # reachable now, or 503 as the other routes answer (it was 202, then failed internal_error)
    return answer(create_job("library_reindex", owner=access.acting_owner(), session_id=None, options=options,
                             body=body))


# -- arguments -----------------------------------------------------------------
def _whose(owner: str) -> str:
    """How an answer or a track_not_found names the library: an admin's ?owner= is named ("the library of alice"),
    where a missing track had been said to be missing "in your library", as if from the admin's own."""
    return whose_library(owner=owner, asker=access.caller().name)


def _key_filter() -> tuple[str, ...]:
    raw = request.args.get("key")
    relation = request.args.get("key_relation", "exact")
    if relation not in ("exact", "relative", "compatible"):
        raise InvalidRequestError("key_relation must be exact, relative or compatible", code="invalid_filter")
    if not raw:
        return ()
    code = parse_key(raw)
    if code is None:
        raise InvalidRequestError("key must be a key like 'A minor', 'F#m', 'Eb major' or a Camelot code like '8A'",
                                  code="invalid_filter")
    return tuple(keys_for(code, relation))


def _needs_partner(args) -> None:
    """No silent filters: key_relation without key, tempo_multiples without a tempo range, had listed every
    track (200) as if they had been read."""
    for name, partners in (("key_relation", ("key",)), ("tempo_multiples", ("tempo_min", "tempo_max"))):
        if args.get(name) and not any(args.get(p) for p in partners):
            needs = " or ".join(partners)
            raise InvalidRequestError(f"{name} needs {needs}: it only qualifies that filter", code="invalid_filter",
                                      details={"parameter": name, "needs": needs})


def _number(name: str, lo: float, hi: float) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not lo <= value <= hi:
        raise InvalidRequestError(f"{name} must be a number in [{lo:g}, {hi:g}]", code="invalid_filter")
    return value


def _flag(name: str, default: bool | None) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise InvalidRequestError(f"{name} must be true or false (1 or 0)", code="invalid_filter")


CONTENTS = ("speech", "music", "silence")  # what the music analysis measured a track as (library/store.py)


def _content() -> str | None:
    raw = request.args.get("content")
    if not raw:
        return None
    if raw not in CONTENTS:
        raise InvalidRequestError("content must be speech, music or silence", code="invalid_filter",
                                  details={"valid": list(CONTENTS)})
    return raw


def _metre() -> str | None:
    raw = request.args.get("metre")
    if not raw:
        return None
    match = METRE_RE.fullmatch(raw)
    if match is None or not 1 <= int(match.group(1)) <= 32:  # 4/0 or "4/4\n" matched nothing, without a word
        raise InvalidRequestError("metre must be like 4/4, 3/4, 6/8", code="invalid_filter")
    return raw


def _session_id() -> str | None:
    raw = request.args.get("session_id")
    # a NUL in it reached PostgreSQL: a 500; an empty one (`?session_id=`) had listed the whole library
    return check_session_id(raw) if raw is not None else None


def _encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _decode(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as e:
        raise InvalidRequestError("cursor is not one this API gave out", code="invalid_cursor") from e


def _cursor_pair(cursor: str | None) -> tuple[str, str] | None:
    if not cursor:
        return None
    value = _decode(cursor)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) and "\x00" not in v
                                                                for v in value)):
        raise InvalidRequestError("cursor is not one this API gave out", code="invalid_cursor")
    return value[0], value[1]


def _cursor_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    value = _decode(cursor)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_SEARCH_OFFSET:
        raise InvalidRequestError("cursor is not one this API gave out", code="invalid_cursor")
    return value
