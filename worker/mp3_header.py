"""Whether an MP3 declares its length (a Xing/Info or VBRI header in its first frame), and whether it is whole.

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

A file that ends before its audio does is refused as truncated (`check_complete`), as a cut WAV, Ogg or M4A is:
both decoders stop quietly where the bytes do, and a stranger's first half of a 30 s MP3 was accepted as a 15 s
file, the first 1000 bytes as 0.027 s. Its header's byte count, where it has one, must not exceed the file
(SHORTFALL_SLACK_BYTES); and walking the frames from the first, each frame's length read from its header, the
last one reached must end within the file. That needs no length header (a CBR MP3 has none), and tags or junk
between or after the frames only stop the walk until two consecutive frames are found again.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

from worker.errors import AudioError

ID3V2_HEADER_BYTES = 10
SCAN_BYTES = 64 * 1024  # where the first frame must start after the ID3v2 tag (junk before it is tolerated)
# bytes of layer III side information after the 4-byte frame header: (MPEG-1?, mono?) -> bytes
_SIDE_INFO_BYTES = {(True, True): 17, (True, False): 32, (False, True): 9, (False, False): 17}
VBRI_OFFSET = 4 + 32  # the Fraunhofer VBRI header's place, whatever the version and mode
XING_FRAMES_FLAG, XING_BYTES_FLAG = 0x1, 0x2
# samples per frame / 8 (the frame-length coefficient in bytes per bit/s per Hz) and the bitrates (kbit/s) a frame
# may have, by (MPEG-1?, layer): a header's frame count must fit the audio bytes at a rate in this range
_COEFFICIENT = {(True, 3): 144, (False, 3): 72, (True, 2): 144, (False, 2): 144, (True, 1): 48, (False, 1): 48}
_MPEG2_LOW = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_BITRATES_KBPS = {  # by the header's bitrate index 1-14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): _MPEG2_LOW, (False, 3): _MPEG2_LOW}
_SAMPLE_RATES = {0b11: (44100, 48000, 32000), 0b10: (22050, 24000, 16000), 0b00: (11025, 12000, 8000)}
# bytes after the audio that are not frames (an ID3v1 tag is 128, an APEv2 tag with lyrics a few KB) or junk; a
# join adds at least a second file's audio
TRAILING_SLACK_BYTES = 64 * 1024
# how far a header's byte count may exceed the whole file (its tags included: a count that took in a tag since
# removed, ID3v1's 128 bytes or a small APE tag) before the file is truncated; a cut shorter than this that falls
# between two frames is the one the frame walk cannot see either
SHORTFALL_SLACK_BYTES = 4096


@dataclass(frozen=True)
class _FirstFrame:
    at: int  # its offset in the file
    header: bytes  # its 4 header bytes
    kind: str | None  # "Xing", "Info" or "VBRI": the length header it carries, if any
    frames: int | None  # that header's counts, None where it has none
    declared_bytes: int | None


def declares_length(path: str | Path) -> bool:
    """True when the first MPEG audio frame carries a Xing, Info or VBRI header (the length is exact) that the
    file's size bears out (module docstring)."""
    path = Path(path)
    first = _read_first_frame(path)
    if first is None or first.kind is None:
        return False
    return _borne_out(first.header, frames=first.frames, declared_bytes=first.declared_bytes,
                      audio_bytes=path.stat().st_size - first.at)


def check_complete(path: str | Path) -> None:
    """Raise AudioError `truncated_audio` where the file ends before its audio does: shorter than its length
    header's byte count says, or its last frame cut off (module docstring)."""
    path = Path(path)
    size = path.stat().st_size
    first = _read_first_frame(path)
    if first is None:
        return
    if first.declared_bytes and first.declared_bytes > size + SHORTFALL_SLACK_BYTES:
        raise AudioError(f"the file is truncated: its {first.kind} header declares {first.declared_bytes} bytes of "
                         f"MP3 audio, {size - first.at} are present", code="truncated_audio")
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        cut = _cut_last_frame(data, first)
    if cut is not None:
        raise AudioError(f"the file is truncated: its last MP3 frame is cut off ({cut[0]} of its {cut[1]} bytes "
                         f"{'are' if cut[0] > 1 else 'is'} present)", code="truncated_audio")


def _read_first_frame(path: Path) -> _FirstFrame | None:
    """The first MPEG audio frame after any ID3v2 tag, and the Xing/Info/VBRI header it may carry."""
    with open(path, "rb") as fh:
        head = fh.read(ID3V2_HEADER_BYTES)
        start = after_id3v2(head)
        fh.seek(start)
        data = fh.read(SCAN_BYTES)
    at = _first_frame(data)
    if at is None:
        return None
    mpeg1 = (data[at + 1] >> 3) & 0b11 == 0b11
    mono = (data[at + 3] >> 6) == 0b11
    xing = at + 4 + _SIDE_INFO_BYTES[(mpeg1, mono)]
    kind: str | None = None
    frames = declared_bytes = None
    if data[xing:xing + 4] in (b"Xing", b"Info"):
        kind = data[xing:xing + 4].decode()
        frames, declared_bytes = _xing_counts(data, xing)
    elif data[at + VBRI_OFFSET:at + VBRI_OFFSET + 4] == b"VBRI":
        kind = "VBRI"
        v = at + VBRI_OFFSET + 4 + 6  # after the version, delay and quality fields
        declared_bytes, frames = _u32(data, v), _u32(data, v + 4)
    return _FirstFrame(start + at, bytes(data[at:at + 4]), kind, frames, declared_bytes)


def _cut_last_frame(data: mmap.mmap, first: _FirstFrame) -> tuple[int, int] | None:
    """(bytes present, frame length) of a last frame that runs past the end of the file, reached frame by frame
    from the first; None when the frames end within it. What is not a frame where one should start (a tag, junk,
    a join's second ID3v2 tag) is passed over to the next frame that the one after it confirms; where none is,
    nothing is said: trailing tags, or a stream this walk does not follow."""
    size, pos = len(data), first.at
    while pos < size:
        length = _frame_length(data, pos, first.header)
        if length is not None:
            if pos + length > size:
                return size - pos, length
            pos += length
        elif size - pos < 4 and _header_start(data[pos:size], first.header):
            return size - pos, 4  # cut inside the next frame's 4-byte header
        elif data[pos:pos + 3] == b"ID3" and pos + ID3V2_HEADER_BYTES <= size:
            pos += after_id3v2(data[pos:pos + ID3V2_HEADER_BYTES])
        else:
            found = _resync(data, pos + 1, first.header)
            if found is None:
                return None
            pos = found
    return None


def _header_start(tail: bytes, ref: bytes) -> bool:
    """Whether the last 1-3 bytes of a file begin a frame header of the stream (the sync, its version and layer)."""
    return tail[0] == 0xFF and (len(tail) == 1 or tail[1] & 0xFE == ref[1] & 0xFE)


def _resync(data: mmap.mmap, pos: int, ref: bytes) -> int | None:
    """The next frame at or after `pos` whose successor starts where its length says (or that ends the file)."""
    size = len(data)
    at = data.find(b"\xff", pos)
    while 0 <= at:
        length = _frame_length(data, at, ref)
        if length is not None and (at + length == size or (at + length < size
                                                           and _frame_length(data, at + length, ref) is not None)):
            return at
        at = data.find(b"\xff", at + 1)
    return None


def _frame_length(data: mmap.mmap | bytes, at: int, ref: bytes) -> int | None:
    """The length in bytes of the frame whose header is at `at`, None unless one is there of the stream whose
    first header is `ref` (the same version, layer and sample rate)."""
    if at + 4 > len(data) or data[at] != 0xFF:
        return None
    b1, b2 = data[at + 1], data[at + 2]
    index = b2 >> 4
    if b1 & 0xFE != ref[1] & 0xFE or b2 & 0x0C != ref[2] & 0x0C or index in (0, 0xF):
        return None
    version, layer = (b1 >> 3) & 0b11, 4 - ((b1 >> 1) & 0b11)
    mpeg1 = version == 0b11
    rate = _SAMPLE_RATES[version][(b2 >> 2) & 0b11]
    bitrate = _BITRATES_KBPS[(mpeg1, layer)][index - 1] * 1000
    padding = (b2 >> 1) & 1
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    return _COEFFICIENT[(mpeg1, layer)] * bitrate // rate + padding


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
    low, high = (kbps * 1000 * _COEFFICIENT[key] // rate for kbps in (min(_BITRATES_KBPS[key]),
                                                                        max(_BITRATES_KBPS[key])))
    return frames * low <= audio_bytes <= frames * (high + 1) + TRAILING_SLACK_BYTES


def after_id3v2(head: bytes) -> int:
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
