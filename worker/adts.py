"""Whether a raw AAC file (ADTS, `.aac`) holds all its last frame: FFmpeg decodes a cut one to where its bytes stop.

Each ADTS frame starts with a 7-byte header (9 with a CRC) that states the frame's whole length in bytes, so the
frames are walked from the first (after any ID3v2 tag) by their stated lengths, without decoding; a last frame
whose stated length runs past the end of the file, or a header cut in two, means the file was cut off. A stranger's
first half of a 10 s `.aac` had been accepted as 5 s, where a cut MP3, FLAC, Ogg, WAV or M4A is 422
`truncated_audio`. Bytes after the frames that are not a frame (an ID3v1 or APE tag, junk) end the walk unjudged.
"""

from __future__ import annotations

import mmap
from pathlib import Path

from worker.errors import AudioError
from worker.mp3_header import ID3V2_HEADER_BYTES, after_id3v2

HEADER_BYTES = 7  # without the optional CRC


def _is_header(data: mmap.mmap, pos: int) -> bool:
    """12 sync bits and layer 0 (what tells ADTS from an MPEG audio frame, whose layer is never 0)."""
    return data[pos] == 0xFF and data[pos + 1] & 0xF6 == 0xF0


def frame_length(header: bytes) -> int:
    """The frame's length in bytes, header included: 13 bits from the 31st of its header."""
    return (header[3] & 0x03) << 11 | header[4] << 3 | header[5] >> 5


def check_complete(path: str | Path) -> None:
    """Raise AudioError `truncated_audio` where the last ADTS frame is cut off; return for anything not ADTS."""
    path = Path(path)
    size = path.stat().st_size
    if size < HEADER_BYTES:
        return
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        pos = after_id3v2(data[:ID3V2_HEADER_BYTES])
        if pos + HEADER_BYTES > size or not _is_header(data, pos):
            return  # not a raw AAC file (an M4A), or no frame where one should start: nothing to judge here
        frames = 0
        while pos + 2 <= size and _is_header(data, pos):
            if pos + HEADER_BYTES > size:
                raise AudioError(f"the file is truncated: its last AAC frame's header is cut off (after {frames} "
                                 "whole frames)", code="truncated_audio")
            length = frame_length(data[pos:pos + HEADER_BYTES])
            if length < HEADER_BYTES:
                return  # not a frame's length: damage inside, for the decoder to judge
            if pos + length > size:
                raise AudioError(f"the file is truncated: its last AAC frame states {length} bytes, "
                                 f"{size - pos} are present", code="truncated_audio")
            pos += length
            frames += 1
