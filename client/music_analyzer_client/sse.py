"""A Server-Sent Events parser (the WHATWG "event stream interpretation"), fed bytes as they arrive.

Written here rather than taken from a package: it is 80 lines, and the client's only dependencies stay an HTTP
library and a terminal UI library.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSentEvent:
    event: str  # "message" when the stream names none
    data: str
    id: str | None  # the stream's last event id when this event was dispatched


class SSEParser:
    """Bytes in, events out. Keeps the last event id (for `Last-Event-ID` on a reconnect) and `retry`."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # an incomplete line
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None  # the id of the event being read: committed when it is complete
        self.last_event_id: str | None = None
        self.retry_ms: int | None = None

    def new_connection(self) -> None:
        """Forget the half-read event of a connection that broke; keep the last complete event's id."""
        self._decoder.reset()
        self._pending, self._data, self._event, self._id = "", [], "", self.last_event_id

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._pending + self._decoder.decode(chunk)
        lines = text.splitlines(keepends=True)
        # a line is complete once its end is seen; a lone "\r" at the end may be the first half of "\r\n"
        if lines and (not lines[-1].endswith(("\n", "\r")) or lines[-1].endswith("\r")):
            self._pending = lines.pop()
        else:
            self._pending = ""
        out: list[ServerSentEvent] = []
        for raw in lines:
            event = self._line(raw.rstrip("\r\n"))
            if event is not None:
                out.append(event)
        return out

    def flush(self) -> list[ServerSentEvent]:
        """At the end of the stream: a line held back for a possible "\\n" after its "\\r" is complete."""
        pending, self._pending = self._pending, ""
        event = self._line(pending.rstrip("\r\n")) if pending.endswith("\r") else None
        return [event] if event is not None else []

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):  # a comment: the server's keep-alive
            return None
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._id = value
        elif field == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        self.last_event_id = self._id  # the spec: the id counts once its event's blank line has arrived
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:  # an event without data is not dispatched (the spec), only its id is kept
            return None
        return ServerSentEvent(event=event or "message", data="\n".join(data), id=self.last_event_id)


def parse_events(chunks: Iterable[bytes], parser: SSEParser | None = None) -> Iterator[ServerSentEvent]:
    """Every event of a byte stream (a complete event ends with a blank line; a cut-off one is dropped)."""
    parser = parser or SSEParser()
    for chunk in chunks:
        yield from parser.feed(chunk)
    yield from parser.flush()
