"""Slow clients (slowloris): sockets that send a request's header or body slowly and never finish it.

Used by tests/test_run_command.py and bench/slow_clients_bench.py. Half the sockets send a partial
header (no blank line ever comes), half a complete header announcing a big body and then only a
few bytes of it; neither needs credentials to hold a server that reads requests in its threads.
"""

from __future__ import annotations

import base64
import http.client
import math
import socket
import statistics
import time

PARTIAL_HEADER = b"GET /health HTTP/1.1\r\nHost: slow\r\nX-Slow: "
BIG_BODY_BYTES = 500_000_000


def big_body_request(auth: tuple[str, str] | None) -> bytes:
    creds = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode() if auth else ""
    return ("POST /sessions/slow/files HTTP/1.1\r\nHost: slow\r\n"
            + (f"Authorization: Basic {creds}\r\n" if auth else "")
            + f"Content-Type: multipart/form-data; boundary=BB\r\nContent-Length: {BIG_BODY_BYTES}\r\n\r\n--BB\r\n"
            ).encode()


def open_slow_sockets(host: str, port: int, count: int, auth: tuple[str, str] | None = None) -> list[socket.socket]:
    """`count` connected sockets: the first half with a partial header, the rest with a 6-byte body."""
    socks = []
    for i in range(count):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(PARTIAL_HEADER if i < count // 2 else big_body_request(auth))
        s.setblocking(False)  # a socket with a timeout would wait for data in recv, MSG_DONTWAIT or not
        socks.append(s)
    return socks


def drip(socks: list[socket.socket]) -> None:
    """One more byte on each partial header (what a slowloris sends to look alive)."""
    for s in socks:
        try:
            s.send(b"x")
        except OSError:
            pass


def server_closed(s: socket.socket) -> bool:
    """True once the server answered or closed this socket (it holds no more of its capacity)."""
    try:
        s.recv(1024)  # b"" (closed) or an answer
    except BlockingIOError:
        return False  # nothing yet: the server still waits for the rest of the request
    except OSError:
        return True  # reset
    return True


def timed_get(host: str, port: int, path: str, auth: tuple[str, str] | None, timeout: float) -> float:
    """Seconds for one GET on a new connection, or inf when it fails or does not answer 200 in time."""
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    t0 = time.perf_counter()
    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        conn.close()
    except OSError:
        return math.inf
    return time.perf_counter() - t0 if resp.status == 200 else math.inf


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> str:
    failed = sum(1 for v in values if v == math.inf)
    answered = [v for v in values if v != math.inf]
    if not answered:
        return f"none of {len(values)} answered 200 in time"
    return (f"p50 {statistics.median(values) * 1000:.1f} ms, p99 {percentile(values, 99) * 1000:.1f} ms "
            f"(a failure counts as infinite), max answered {max(answered) * 1000:.1f} ms, "
            f"{failed}/{len(values)} failed or timed out")
