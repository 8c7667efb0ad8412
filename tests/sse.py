"""Server-Sent Events clients for tests: one stream read event by event, and many idle raw streams at once.

Used by tests/test_api_events.py (in-process server) and tests/test_run_command.py (behind nginx).
"""

from __future__ import annotations

import base64
import json
import selectors
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import requests

READ_TIMEOUT_SECONDS = 30  # no byte for this long fails the test instead of hanging it


@dataclass(frozen=True)
class SseEvent:
    event: str | None  # the `event:` name; None for a comment line
    data: str
    id: str | None
    received: float  # time.time() when the event was complete on the client

    def json(self) -> dict:
        return json.loads(self.data)


class SseStream:
    """A GET on an event stream, parsed as the SSE spec does (fields, blank line ends an event)."""

    def __init__(self, response: requests.Response):
        self.response = response
        self.retry: int | None = None
        self._lines: Iterator[str] = response.iter_lines(chunk_size=None, decode_unicode=True)

    def __enter__(self) -> SseStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.response.close()

    def next(self) -> SseEvent | None:
        """The next event or comment; None when the server ended the stream."""
        fields: dict[str, str] = {}
        data: list[str] = []
        for line in self._lines:
            if line.startswith(":"):
                return SseEvent(None, line[1:].strip(), None, time.time())
            if line == "":
                if fields or data:
                    return SseEvent(fields.get("event", "message"), "\n".join(data), fields.get("id"), time.time())
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "retry":
                self.retry = int(value)
            elif name == "data":
                data.append(value)
            else:
                fields[name] = value
        return None

    def events(self) -> list[SseEvent]:
        """Every remaining event (comments left out) until the server ends the stream."""
        out = []
        while (event := self.next()) is not None:
            if event.event is not None:
                out.append(event)
        return out


def open_stream(base: str, job_id: str, auth: tuple[str, str], last_event_id: str | None = None) -> SseStream:
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    response = requests.get(f"{base}/jobs/{job_id}/events", auth=auth, headers=headers, stream=True,
                            timeout=(5, READ_TIMEOUT_SECONDS))
    assert response.status_code == 200, response.text
    return SseStream(response)


def open_raw_streams(host: str, port: int, job_id: str, auth: tuple[str, str], count: int) -> list[socket.socket]:
    """`count` sockets, each with a GET of the job's event stream sent (nothing read yet)."""
    creds = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    request = (f"GET /jobs/{job_id}/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {creds}\r\n"
               "Accept: text/event-stream\r\n\r\n").encode()
    socks = []
    for _ in range(count):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(request)
        s.setblocking(False)
        socks.append(s)
    return socks


def wait_all_received(socks: list[socket.socket], marker: bytes, timeout: float) -> dict[int, float]:
    """Read every socket until `marker` has arrived on each; {index: time.time() it arrived} (missing: not in
    time). Waits in select(), never by sleeping."""
    buffers = {i: b"" for i in range(len(socks))}
    arrived: dict[int, float] = {}
    with selectors.DefaultSelector() as sel:
        for i, s in enumerate(socks):
            sel.register(s, selectors.EVENT_READ, i)
        deadline = time.monotonic() + timeout
        while sel.get_map() and (left := deadline - time.monotonic()) > 0:
            for key, _ in sel.select(left):
                i = key.data
                chunk = socks[i].recv(65536)
                buffers[i] += chunk
                if marker in buffers[i] or not chunk:  # found, or closed (a closed one will never have it)
                    sel.unregister(socks[i])
                    if marker in buffers[i]:
                        arrived[i] = time.time()
    return arrived


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (a gunicorn master and its workers)."""
    import psutil

    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def follow_until_done(stream: SseStream) -> tuple[SseEvent, SseEvent]:
    """(the first event, the `done` event) of a stream read to its end."""
    first = stream.next()
    assert first is not None and first.event is not None, first
    done = first
    while (event := stream.next()) is not None:
        if event.event is not None:
            done = event
    assert done.event == "done", done
    return first, done
