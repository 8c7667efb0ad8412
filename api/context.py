"""Per-request plumbing: a request id on every response and log line, security headers, safe JSON parsing.

Request ids: a client's (or the nginx front's) `X-Request-ID` is kept when it is a sane token, otherwise
one is made; it is echoed on the response, added to every log record made while handling the request,
and stored in the records of jobs the request creates, so an error report can be followed through the
API's and the workers' logs.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask.json.provider import DefaultJSONProvider

from worker.errors import ECHO_CHARS, InvalidRequestError, echo

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# downloads are data, never pages: nothing in them may run or load anything
DOWNLOAD_CSP = "default-src 'none'; sandbox"


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def install_log_record_factory() -> None:
    """Every log record made while a request is handled gets `request_id` and a `[<id>] ` prefix, whichever
    logger made it (a logger's own filters would miss its children's records). Installed once per process."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        rid = current_request_id()
        record.request_id = rid
        if rid:
            record.msg = f"[{rid}] {record.msg}"
        return record

    factory.adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_SURROGATE = re.compile("[\ud800-\udfff]")  # the decoder joins a valid pair into one character: any left is lone


def holds_lone_surrogate(value: Any) -> bool:
    """Whether any string in a decoded JSON value (keys too) holds a lone surrogate: JSON's escapes can spell one
    ("\\ud800"), but it is no character, and UTF-8 (file names, tokenizers, Redis) cannot encode it."""
    stack = [value]
    while stack:  # not recursive: the decoder accepts nesting nearly as deep as the recursion limit
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class SafeJSONProvider(DefaultJSONProvider):
    """JSON parsing whose failures are all ValueError: nesting thousands deep raises RecursionError in the
    decoder, which would otherwise escape as a 500. Text that is not Unicode (a lone surrogate escape) is a 400
    here, once for every route: it failed deep inside (a file name, a tokenizer) as a 500 or a crashed job."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError as e:
            raise json.JSONDecodeError("nested too deeply", s if isinstance(s, str) else "", 0) from e
        if has_request_context() and holds_lone_surrogate(value):
            raise InvalidRequestError("the JSON body holds a \\uD800-\\uDFFF escape that is not half of a surrogate "
                                      "pair: that is no character; send Unicode text", code="invalid_json")
        return value


def init_request_context(app: Flask) -> None:
    install_log_record_factory()

    @app.before_request
    def assign_request_id() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _REQUEST_ID_RE.fullmatch(given) else uuid.uuid4().hex

    @app.after_request
    def response_headers(response: Response) -> Response:
        rid = current_request_id()
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.direct_passthrough or response.headers.get("Content-Disposition"):  # a file download
            response.headers.setdefault("Content-Security-Policy", DOWNLOAD_CSP)
        return response


# (endpoint, parameter) pairs a query may repeat: GET /jobs' comma lists, `?state=queued&state=running` as one list
REPEATABLE_PARAMS = frozenset({("jobs.list_jobs", "type"), ("jobs.list_jobs", "state")})
# a repeated parameter's error code: the parameter's own where it has one, as for a bad value of it
_REPEATED_CODES = {"limit": "invalid_limit", "wait": "invalid_wait", "cursor": "invalid_cursor", "area": "invalid_area",
                   "session_id": "invalid_session_id", "q": "invalid_query", "mode": "invalid_query"}


def init_single_params(app: Flask) -> None:
    """400 for a query parameter given twice (`?limit=1&limit=5`, `?wait=1&wait=2`): every route read the first and
    ignored the rest without a word. Once for every route, after the credentials were checked; a path no route
    matches stays a 404."""

    @app.before_request
    def single_params() -> None:
        if request.routing_exception is not None:
            return
        for name, values in request.args.lists():
            if len(values) > 1 and (request.endpoint, name) not in REPEATABLE_PARAMS:
                raise InvalidRequestError(f"the query parameter {echo(name)} is given {len(values)} times; give it "
                                          "once", code=_REPEATED_CODES.get(name, "invalid_request"),
                                          details={"parameter": name[:ECHO_CHARS]})


def known_params(valid: frozenset[str]) -> None:
    """400 for a query parameter a listing does not read: a misspelt filter (`bpm_min=200`) had listed the whole
    library, as if it had matched (a stranger's); JSON bodies were strict already (`unknown_option`)."""
    unknown = sorted(set(request.args) - valid)
    if unknown:
        raise InvalidRequestError(f"unknown parameter(s): {', '.join(p[:64] for p in unknown[:20])}",
                                  code="invalid_filter", details={"unknown": [p[:64] for p in unknown[:20]],
                                                                  "valid": sorted(valid)})


def known_keys(body: dict, valid: frozenset[str], route: str) -> None:
    """400 `unknown_option` for a key of a JSON body that `route` does not read: a misspelt `sessionid` had made a
    session of a random id, as if the body had been empty."""
    unknown = sorted(set(body) - valid)
    if unknown:
        raise InvalidRequestError(f"unknown key(s) of {route}: {', '.join(k[:64] for k in unknown[:20])}",
                                  code="unknown_option", details={"unknown": [k[:64] for k in unknown[:20]],
                                                                  "unknown_count": len(unknown),
                                                                  "valid": sorted(valid)})


def page_limit(default: int, most: int) -> int:
    """`?limit=` of a listing: an integer of at least 1 (0 or less was read as 1, a page nobody asked for, while
    the description says the minimum is 1); over `most` it is cut to `most`."""
    try:
        limit = int(request.args.get("limit", default))
    except ValueError as e:
        raise InvalidRequestError("limit must be an integer", code="invalid_limit") from e
    if limit < 1:
        raise InvalidRequestError("limit must be at least 1", code="invalid_limit")
    return min(limit, most)
