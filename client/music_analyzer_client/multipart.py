"""An upload's multipart/form-data body read from the file as it is sent, with its length known up front.

requests builds a `files=` body whole in memory (urllib3's encode_multipart_formdata reads the file into it): a
stranger's `ma analyze` of a 357 MB WAV (34 minutes, 44.1 kHz stereo) peaked at 731 MB resident, and a file at the
server's 1 GiB upload limit would need over 2 GB. This body holds one chunk at a time; its bytes are the ones
requests wrote (the part's headers rendered by urllib3's own RequestField), and a Content-Length, not a chunked
transfer, is sent, as before.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from urllib3.fields import RequestField

CHUNK_BYTES = 1 << 20


class FilePart:
    """One file field (`name`, sent as `filename`) of an open binary file, from its current position to its end."""

    def __init__(self, name: str, filename: str, fh: BinaryIO):
        self.boundary = uuid.uuid4().hex
        field = RequestField(name=name, data=b"", filename=filename)
        field.make_multipart()
        self._head = f"--{self.boundary}\r\n".encode("latin-1") + field.render_headers().encode("utf-8")
        self._tail = f"\r\n--{self.boundary}--\r\n".encode("latin-1")
        self._fh = fh
        self._size = os.fstat(fh.fileno()).st_size - fh.tell()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._size + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        left = self._size
        while left > 0:
            chunk = self._fh.read(min(CHUNK_BYTES, left))
            if not chunk:  # the Content-Length sent promised more: the server would wait for bytes that never come
                raise OSError(f"{self._fh.name}: the file got shorter while it was being uploaded")
            left -= len(chunk)
            yield chunk
        yield self._tail


def send_file(send: Callable[[FilePart], Any], fh: BinaryIO, filename: str, *, retries: int, most_wait: float) -> Any:
    """`send` a FilePart of `fh` as field `file`; sent again from the start, up to `retries` times, where the server
    stored nothing and says to send it later: 429 too_many_uploads (the user's uploads being checked at once, each
    holding a server thread while its audio is decoded), after its Retry-After (at most `most_wait` s)."""
    from .errors import MusicAnalyzerError

    start = fh.tell()
    for attempt in range(retries + 1):
        fh.seek(start)
        try:
            return send(FilePart("file", filename, fh))
        except MusicAnalyzerError as e:
            if e.code != "too_many_uploads" or attempt >= retries:
                raise
            time.sleep(min(e.retry_after or 5.0, most_wait))
    raise AssertionError("unreachable")
