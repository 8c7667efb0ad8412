"""gunicorn workers whose own error answers leave in the API's JSON envelope (`-k service.api_worker.ApiWorker`).

gunicorn answers a request it cannot hand to the app (a request line or a header over its limits, a line
that does not parse) with an HTML page. nginx answers its own such errors in JSON (deploy/nginx), but it
lets through request lines and headers up to 16 KB, which gunicorn's defaults (4094 and 8190 bytes) refuse:
a 5,000-character query string came back as gunicorn's HTML 414, through nginx or without it. The limits
are raised to what gunicorn allows (REQUEST_LINE_BYTES, HEADER_FIELD_BYTES) and what is still refused gets
the envelope. gunicorn's own classification and logging stay; only the page it writes is replaced.
"""

from __future__ import annotations

import json
import socket
from http import HTTPStatus

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

# gunicorn's largest request line (its limit_request_line accepts at most 8190; 0 would be unlimited)
REQUEST_LINE_BYTES = 8190
# one header field, as nginx's large_client_header_buffers (16k) lets through
HEADER_FIELD_BYTES = 16384

_CODES = {
    400: ("bad_request", "the request could not be parsed"),
    403: ("forbidden", "the request was refused"),
    414: ("uri_too_long", f"the request line is longer than {REQUEST_LINE_BYTES} bytes"),
    417: ("expectation_failed", "the Expect header is not supported"),
    431: ("request_header_too_large", f"a request header is longer than {HEADER_FIELD_BYTES} bytes, "
                                      "or there are too many of them"),
    501: ("not_implemented", "the request's transfer coding is not supported"),
}


def error_bytes(status: int) -> bytes:
    """The whole HTTP answer for an error gunicorn found before the app saw the request (no internal detail:
    gunicorn's own message repeats the request and, for a 500, names nothing useful to a client)."""
    code, message = _CODES.get(status, ("internal_error", "the server could not handle the request"))
    body = json.dumps({"error": {"code": code, "message": message}}).encode() + b"\n"
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:  # not a status the standard library names
        reason = "Error"
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for gunicorn.util.write_error (same signature), which writes an HTML page."""
    del reason, mesg  # the envelope's own wording, see error_bytes
    util.write_nonblock(sock, error_bytes(status_int))


def use_json_errors() -> None:
    """gunicorn writes its error pages through this one function (workers/base.py handle_error, after its
    classification and access log); replacing it in the worker process changes the page and nothing else."""
    util.write_error = write_json_error


class ApiWorker(ThreadWorker):
    """gunicorn's gthread worker (the API's), with JSON error answers."""

    def init_process(self) -> None:
        use_json_errors()
        # the app holds at most half its threads in event streams and long polls (api/waits.py thread_slots): it
        # sizes that share by the threads it really has, `--threads` (run.py --api-threads), not by a setting
        from api import waits

        waits.POOL_THREADS = int(self.cfg.threads)
        super().init_process()
