"""The Python client through a server that is away for a while (nginx's 502 while the API restarts, a cut
connection) and a wait that another thread ends: a stranger's app, whose worker thread sat in `wait()` with no
way out, and whose `wait()` and `health()` gave up on a restart the command line rides through."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from music_analyzer_client import MusicAnalyzer
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, USER

_BAD_GATEWAY_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
BAD_GATEWAY = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nRetry-After: 0\r\n"  # nginx's, API restarting
               b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_BAD_GATEWAY_PAGE)) + _BAD_GATEWAY_PAGE


@contextmanager
def away_then_serving(app, answers: list[bytes | None]) -> Iterator[str]:
    """A port whose first connections get `answers` (an HTTP answer written by hand, or None: closed without one),
    one each, after which `app` serves on that same listening socket (closed and bound again, its port could be
    taken in between). Yields the base URL."""
    away = socket.socket()
    away.bind(("127.0.0.1", 0))
    away.listen()
    port = away.getsockname()[1]
    served: dict[str, object] = {}

    def front() -> None:
        for answer in answers:
            conn, _ = away.accept()
            if answer is not None:
                request = b""
                while b"\r\n\r\n" not in request:  # the requests here are GETs: no body
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                conn.sendall(answer)
            conn.close()
        srv = served["srv"] = make_server("127.0.0.1", port, app, threaded=True, fd=away.detach())
        srv.serve_forever()

    thread = threading.Thread(target=front, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv = served.get("srv")
        if srv is not None:
            srv.shutdown()  # type: ignore[attr-defined]
            srv.server_close()  # type: ignore[attr-defined]


def test_health_is_retried_through_the_fronts_502_like_every_read(app, celery_worker):
    """`health()` alone had no retry: a monitoring script's check during an API restart raised "the server answered
    502 Bad Gateway" where sessions(), job() and the rest waited the restart out."""
    with away_then_serving(app, [BAD_GATEWAY]) as base:
        health = MusicAnalyzer(base, USER, PASSWORD).health()
    assert health["status"] == "ok" and health["redis"]["ok"], health
