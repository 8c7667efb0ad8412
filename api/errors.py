"""Every error leaves as `{"error": {"code", "message"}}` with the right status."""

from __future__ import annotations

import logging

import kombu.exceptions
import redis
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from api.context import current_request_id
from worker.errors import MusicAnalyzerError

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
               413: "payload_too_large", 415: "unsupported_media_type", 422: "unprocessable"}


def error_response(status: int, code: str, message: str, **extra):
    body = {"error": {"code": code, "message": message, **extra}}
    return jsonify(body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(MusicAnalyzerError)
    def domain_error(e: MusicAnalyzerError):
        response, status = error_response(e.http_status, e.code, e.message,
                                          **({"details": e.details} if e.details else {}))
        response.headers.update(getattr(e, "headers", {}))  # e.g. Retry-After of a 429
        return response, status

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        code = _HTTP_CODES.get(e.code or 500, "http_error")
        message = e.description or e.name
        if e.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            message = f"the request body is larger than the limit of {limit} bytes"
        return error_response(e.code or 500, code, message)

    @app.errorhandler(redis.RedisError)
    @app.errorhandler(kombu.exceptions.OperationalError)
    def queue_down(e: Exception):
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
