"""Whether an MP3 declares its length: a Xing/Info or VBRI header in its first frame.

libsndfile (mpg123) takes an MP3's length from that header; without one it estimates it from the first frame's
bitrate and never reads past the estimate. For a variable-bitrate stream without the header (streamed or
concatenated MP3s, `ffmpeg -write_xing 0`, some encoders) the estimate can be far off: a stranger's 179.5 s VBR
song was read as 91.5 s, analysed only to there, without a word, and a 2-hour one passed the length limit as
902 s. Such files are decoded by FFmpeg instead (worker/audio_io.py `open_soundfile`), which reads to the end.
"""

from __future__ import annotations

from pathlib import Path

ID3V2_HEADER_BYTES = 10
SCAN_BYTES = 64 * 1024  # where the first frame must start after the ID3v2 tag (junk before it is tolerated)
# bytes of layer III side information after the 4-byte frame header: (MPEG-1?, mono?) -> bytes
_SIDE_INFO_BYTES = {(True, True): 17, (True, False): 32, (False, True): 9, (False, False): 17}
VBRI_OFFSET = 4 + 32  # the Fraunhofer VBRI header's place, whatever the version and mode


def declares_length(path: str | Path) -> bool:
    """True when the first MPEG audio frame carries a Xing, Info or VBRI header (the length is exact)."""
    with open(path, "rb") as fh:
        head = fh.read(ID3V2_HEADER_BYTES)
        start = _after_id3v2(head)
        fh.seek(start)
        data = fh.read(SCAN_BYTES)
    at = _first_frame(data)
    if at is None:
        return False
    mpeg1 = (data[at + 1] >> 3) & 0b11 == 0b11
    mono = (data[at + 3] >> 6) == 0b11
    xing = at + 4 + _SIDE_INFO_BYTES[(mpeg1, mono)]
    return data[xing:xing + 4] in (b"Xing", b"Info") or data[at + VBRI_OFFSET:at + VBRI_OFFSET + 4] == b"VBRI"


def _after_id3v2(head: bytes) -> int:
    """Where the audio starts after an ID3v2 tag (0 without one): its size is four 7-bit bytes, plus a footer."""
    if len(head) < ID3V2_HEADER_BYTES or head[:3] != b"ID3":
        return 0
    size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
    footer = ID3V2_HEADER_BYTES if head[5] & 0x10 else 0
    return ID3V2_HEADER_BYTES + size + footer


def _first_frame(data: bytes) -> int | None:
    """Offset of the first plausible MPEG audio frame header (11 sync bits, a valid version, layer, bitrate and
    sample rate), or None."""
    at = data.find(b"\xff")
    while 0 <= at <= len(data) - 4:
        b1, b2 = data[at + 1], data[at + 2]
        if (b1 & 0xE0 == 0xE0 and (b1 >> 3) & 0b11 != 0b01 and (b1 >> 1) & 0b11 != 0
                and b2 >> 4 not in (0, 0xF) and (b2 >> 2) & 0b11 != 0b11):
            return at
        at = data.find(b"\xff", at + 1)
    return None
