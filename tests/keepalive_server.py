"""A WSGI app on a real HTTP/1.1 socket that keeps connections alive between requests, as nginx and gunicorn do:
the session's werkzeug server closes every connection after its answer, so a client's pool of open connections
(and whether it closes them) cannot be seen against it. Buffered answers with Content-Length; enough for the
client's JSON requests (no test here: pytest collects only test_*.py)."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def handler_for(app: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def handle_one_request(self) -> None:  # every method, one code path
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path, _, query = self.path.partition("?")
            environ = {"REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
                       "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(self.server.server_address[1]),
                       "SERVER_PROTOCOL": self.request_version, "REMOTE_ADDR": self.client_address[0],
                       "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                       "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
                       "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False,
                       "wsgi.run_once": False}
            for key, value in self.headers.items():
                name = "HTTP_" + key.upper().replace("-", "_")
                if name not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                    environ[name] = value
            started: list[Any] = []

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                started[:] = [status, headers]
                return lambda data: None

            chunks = app(environ, start_response)
            try:
                data = b"".join(chunks)
            finally:
                getattr(chunks, "close", lambda: None)()
            status, headers = started
            self.send_response(int(status.split()[0]), status.partition(" ")[2])
            for key, value in headers:
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

    return Handler


@contextmanager
def keepalive_serving(app: Any) -> Iterator[str]:
    """`app` on 127.0.0.1 at a port the OS picks, keeping connections alive; yields the base URL."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(app))
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
