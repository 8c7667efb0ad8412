"""Whether an MP3 declares its length: a Xing/Info or VBRI header in its first frame.

libsndfile (mpg123) takes an MP3's length from that header; without one it estimates it from the first frame's
bitrate and never reads past the estimate. For a variable-bitrate stream without the header (streamed or
concatenated MP3s, `ffmpeg -write_xing 0`, some encoders) the estimate can be far off: a stranger's 179.5 s VBR
song was read as 91.5 s, analysed only to there, without a word, and a 2-hour one passed the length limit as
902 s. Such files are decoded by FFmpeg instead (worker/audio_io.py `open_soundfile`), which reads to the end.

A header is believed only where the file's size bears it out: MP3s joined end to end (`cat a.mp3 b.mp3`, a
common way to make a mix) keep the first one's header, and a stranger's 418 s join was read, analysed and
reported as its first 8.5 s; a header edited to say 100 frames let a 3,700 s file past the one-hour limit as
7 s, and one saying 100,000,000 frames got a real 5 s file refused as 2,400,000 s long. The frame count must fit
the audio bytes at some bitrate the stream's version and layer allow, and the byte count, where the header has
one, must be the audio's own to within TRAILING_SLACK_BYTES (tags at the end, junk).
"""

from __future__ import annotations

from pathlib import Path

ID3V2_HEADER_BYTES = 10
SCAN_BYTES = 64 * 1024  # where the first frame must start after the ID3v2 tag (junk before it is tolerated)
# bytes of layer III side information after the 4-byte frame header: (MPEG-1?, mono?) -> bytes
_SIDE_INFO_BYTES = {(True, True): 17, (True, False): 32, (False, True): 9, (False, False): 17}
VBRI_OFFSET = 4 + 32  # the Fraunhofer VBRI header's place, whatever the version and mode
XING_FRAMES_FLAG, XING_BYTES_FLAG = 0x1, 0x2
# samples per frame / 8 (the frame-length coefficient in bytes per bit/s per Hz) and the bitrates (kbit/s) a frame
# may have, by (MPEG-1?, layer): a header's frame count must fit the audio bytes at a rate in this range
_COEFFICIENT = {(True, 3): 144, (False, 3): 72, (True, 2): 144, (False, 2): 144, (True, 1): 48, (False, 1): 48}
_BITRATES_KBPS = {(True, 3): (32, 320), (False, 3): (8, 160), (True, 2): (32, 384), (False, 2): (8, 160),
                  (True, 1): (32, 448), (False, 1): (32, 256)}
_SAMPLE_RATES = {0b11: (44100, 48000, 32000), 0b10: (22050, 24000, 16000), 0b00: (11025, 12000, 8000)}
# bytes after the audio that are not frames (an ID3v1 tag is 128, an APEv2 tag with lyrics a few KB) or junk; a
# join adds at least a second file's audio
TRAILING_SLACK_BYTES = 64 * 1024


def declares_length(path: str | Path) -> bool:
    """True when the first MPEG audio frame carries a Xing, Info or VBRI header (the length is exact) that the
    file's size bears out (module docstring)."""
    path = Path(path)
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
    if data[xing:xing + 4] in (b"Xing", b"Info"):
        frames, declared_bytes = _xing_counts(data, xing)
    elif data[at + VBRI_OFFSET:at + VBRI_OFFSET + 4] == b"VBRI":
        v = at + VBRI_OFFSET + 4 + 6  # after the version, delay and quality fields
        declared_bytes, frames = _u32(data, v), _u32(data, v + 4)
    else:
        return False
    audio_bytes = path.stat().st_size - start - at
    return _borne_out(data[at:at + 4], frames=frames, declared_bytes=declared_bytes, audio_bytes=audio_bytes)


def _xing_counts(data: bytes, xing: int) -> tuple[int | None, int | None]:
    """(frames, bytes) of a Xing/Info header, each None where its flag is not set."""
    flags = _u32(data, xing + 4)
    if flags is None:
        return None, None
    at = xing + 8
    frames = _u32(data, at) if flags & XING_FRAMES_FLAG else None
    at += 4 if flags & XING_FRAMES_FLAG else 0
    return frames, (_u32(data, at) if flags & XING_BYTES_FLAG else None)


def _u32(data: bytes, at: int) -> int | None:
    return int.from_bytes(data[at:at + 4], "big") if at + 4 <= len(data) else None


def _borne_out(header: bytes, *, frames: int | None, declared_bytes: int | None, audio_bytes: int) -> bool:
    """Whether a header's counts fit the audio bytes: its frames at some allowed bitrate, its byte count as is."""
    if not frames:  # no frame count: libsndfile has no length to take from it either
        return False
    if declared_bytes and abs(declared_bytes - audio_bytes) > TRAILING_SLACK_BYTES:
        return False
    version, layer = (header[1] >> 3) & 0b11, 4 - ((header[1] >> 1) & 0b11)
    key = (version == 0b11, layer)
    rate = _SAMPLE_RATES[version][(header[2] >> 2) & 0b11]
    low, high = (kbps * 1000 * _COEFFICIENT[key] // rate for kbps in _BITRATES_KBPS[key])
    return frames * low <= audio_bytes <= frames * (high + 1) + TRAILING_SLACK_BYTES


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
