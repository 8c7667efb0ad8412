"""Every error leaves as `{"error": {"code", "message"}}` with the right status."""

from __future__ import annotations

import logging
from typing import Any

import kombu.exceptions
import redis
from flask import Flask, Response, current_app, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from api.context import current_request_id
from jobs.queue_storage import QueueStorageFull
from worker.errors import DISK_FULL_MESSAGE, InsufficientStorageError, MusicAnalyzerError, out_of_space

PATH_CHARS = 200  # of a path no route matches, quoted back in its 404 or 405

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
               412: "precondition_failed", 413: "payload_too_large", 415: "unsupported_media_type",
               416: "range_not_satisfiable",
               422: "unprocessable"}


def error_response(status: int, code: str, message: str, **extra):
    body = {"error": {"code": code, "message": message, **extra}}
    return jsonify(body), status


def queue_disk_full(e: BaseException) -> bool:
    """valkey/Redis refuses writes (MISCONF) while it cannot persist them (a full disk, as a rule); it accepts
    them again by itself once space returns (redis_server.py, jobs/queue_storage.py)."""
    seen: BaseException | None = e
    for _ in range(5):  # kombu wraps the server's answer in its own errors
        if seen is None:
            return False
        if isinstance(seen, QueueStorageFull):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def too_large_message() -> str:
    """Which limit a 413 is about. Werkzeug raises the same error for a body over MAX_CONTENT_LENGTH and for a
    multipart form over its part count or a non-file field over its memory limit; a form whose declared
    length is within the body limit broke one of the latter two."""
    limit = int(current_app.config["MAX_CONTENT_LENGTH"])
    length = request.content_length if has_request_context() else None
    if length is not None and length <= limit and request.mimetype == "multipart/form-data":
        return (f"the multipart form is over its limits: at most {request.max_form_parts} parts, and at most "
                f"{request.max_form_memory_size} bytes in a field that is not a file")
    return f"the request body is larger than the limit of {limit} bytes"


def unknown_job_type() -> str | None:
    """For a POST to /process/<type>/... of no such type: what the types are (a stranger's client typo "pitchh"
    had got Flask's "The requested URL was not found on the server. If you entered the URL manually...")."""
    if not has_request_context() or request.method != "POST":
        return None
    parts = request.path.split("/")
    if len(parts) != 4 or parts[1] != "process":
        return None
    known = sorted({r.rule.split("/")[2] for r in current_app.url_map.iter_rules()
                    if r.rule.startswith("/process/") and "POST" in (r.methods or ())})
    if parts[2] in known and not parts[3]:  # "/process/pitch/": a client's empty session id had read "no job type"
        return f"no session id: POST /process/{parts[2]}/<session_id> names the session whose files it analyses"
    return f"no job type {parts[2][:64]!r}: POST /process/<type>/<session_id> takes {', '.join(known)}"


def unrouted(e: HTTPException) -> tuple[str, dict[str, Any]] | None:
    """The message (and details) of a 404 or 405 that routing raised, not a view: which method and path, cut to
    PATH_CHARS, and for a 405 the methods the path takes (both had been Werkzeug's generic "The requested URL was
    not found on the server. If you entered the URL manually...")."""
    if e.code not in (404, 405) or not has_request_context() or request.routing_exception is not e:
        return None
    method, path = request.method[:16], request.path
    if len(path) > PATH_CHARS:
        path = path[:PATH_CHARS] + "…"
    if isinstance(e, MethodNotAllowed):
        allowed = sorted(e.valid_methods or ())
        return f"{method} is not allowed on {path}; it takes {', '.join(allowed)}", {"details": {"allowed": allowed}}
    return f"no such path: {method} {path}", {}


REFUSED_METHOD_HEADER = "X-MA-Refused-Method"  # the nginx front asks which methods a URL takes (TRACE, CONNECT)


def init_refused_methods(app: Flask) -> None:
    """nginx refuses TRACE and CONNECT itself, knowing no route: its 405 had no `Allow` (RFC 9110 requires one).
    Its error page asks the API with an OPTIONS carrying REFUSED_METHOD_HEADER, answered here with the API's own
    405 and that URL's Allow, before credentials are asked for (nginx's 405 came to anyone: the methods of a URL
    are in the public description)."""

    @app.before_request
    def refused_method() -> tuple[Response, int] | None:
        if request.method != "OPTIONS" or REFUSED_METHOD_HEADER not in request.headers:
            return None
        allowed = current_app.url_map.bind_to_environ(request.environ).allowed_methods()
        body, status = error_response(405, "method_not_allowed", "this method is not served")
        body.headers["Allow"] = ", ".join(sorted(allowed))  # empty for a URL no route matches: none is
        return body, status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(MusicAnalyzerError)
    def domain_error(e: MusicAnalyzerError):
        response, status = error_response(e.http_status, e.code, e.message,
                                          **({"details": e.details} if e.details else {}))
        response.headers.update(e.headers)  # e.g. Retry-After of a 429, or of a 409 idempotency_key_in_use
        return response, status

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        code = _HTTP_CODES.get(e.code or 500, "http_error")
        message: str = e.description or e.name
        extra: dict[str, Any] = {}
        if e.code == 413:
            message = too_large_message()
        elif e.code == 404 and (unknown := unknown_job_type()) is not None:
            message = unknown
        elif (routing := unrouted(e)) is not None:
            message, extra = routing
        body, status = error_response(e.code or 500, code, message, **extra)
        # the exception's own headers say what the status means: Allow of a 405, Content-Range of a 416
        for name, value in e.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                body.headers[name] = value
        return body, status

    @app.errorhandler(OSError)
    def os_error(e: OSError):
        if out_of_space(e):  # the data directory's disk is full: the client's error is "try later", not a bug
            log.warning("disk full: %s", e)
            return domain_error(InsufficientStorageError(DISK_FULL_MESSAGE))
        return unexpected(e)

    @app.errorhandler(redis.RedisError)
    @app.errorhandler(kombu.exceptions.OperationalError)
    def queue_down(e: Exception):
        if queue_disk_full(e):
            log.warning("the job queue's disk is full: %s", e)
            # only a POST queues a job: a cancel refused here had said "nothing was queued"
            done = "queued" if not has_request_context() or request.method == "POST" else "changed"
            return error_response(507, "insufficient_storage", f"the job queue's disk is full: nothing was "
                                  f"{done}; retry once space has been freed")
        log.warning("redis unavailable: %s", e)
        return error_response(503, "redis_unavailable",
                              "the job queue (Redis) is not reachable; retry shortly")

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        # the details go to the log (with the request id), never to the client
        log.exception("unhandled error")
        rid = current_request_id()
        return error_response(500, "internal_error", "an internal error occurred"
                              + (f"; quote request id {rid} when reporting it" if rid else ""))
