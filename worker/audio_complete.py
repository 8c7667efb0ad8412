"""Whether a file holds all the audio its headers say it does: decoders shorten a cut file without a word.

WAV and AIFF: the chunk holding the samples must fit in the file; Ogg: its last page must be whole; FLAC: its
frames must reach the total its STREAMINFO declares. Each raises
AudioError `truncated_audio`. (MP3s: worker/mp3_header.py `check_complete`.) And a WAV whose header was never
given its lengths (`wav_length_unset`) is not empty but of unknown length, read to the end of the file.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from worker.errors import AudioError

# (chunk header of the whole file, its form types, byte order, the chunk holding the samples, the format's name)
_IFF_FORMS = {b"RIFF": ((b"WAVE",), "<", b"data", "WAV"), b"FORM": ((b"AIFF", b"AIFC"), ">", b"SSND", "AIFF")}


def check_iff_complete(path: Path) -> None:
    """A WAV data chunk (or an AIFF sound-data chunk) that claims more bytes than the file has means truncation.

    libsndfile silently shortens such a file, so the frame count alone does not tell.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        form = _IFF_FORMS.get(head[:4]) if len(head) == 12 else None
        if form is None or head[8:12] not in form[0]:
            return
        _, order, samples_chunk, name = form
        found = _find_chunk(fh, samples_chunk, size=size, order=order)
        if found is not None:
            pos, clen = found
            if clen != 0xFFFFFFFF and pos + 8 + clen > size:
                raise AudioError(f"the file is truncated: the {name} {samples_chunk.decode()} chunk declares {clen} "
                                 f"bytes, {size - pos - 8} are present", code="truncated_audio")


def check_iff_header_complete(path: Path) -> None:
    """A WAV (or AIFF) that ends inside its header chunks, before the chunk holding its samples begins, was cut off:
    one of 30 bytes, or one cut inside its fmt chunk or its data chunk's header, had been `corrupt_audio` ("the
    decoder stopped inside it"; libsndfile and FFmpeg refuse it outright). Where its chunks end exactly at the end
    of the file without a samples chunk, the RIFF (FORM) size says whether bytes are missing: a whole file without
    one is left to the decoders."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        form = _IFF_FORMS.get(head[:4]) or (_IFF_FORMS[b"RIFF"] if head[:4] == b"RF64" else None)
        if form is None or not any(kind.startswith(head[8:12]) for kind in form[0]):
            return
        forms, order, samples_chunk, name = form
        cut = AudioError(f"the file is truncated: it ends inside its {name} header, before its audio data",
                         code="truncated_audio")
        if len(head) < 12:
            raise cut
        pos = 12
        while pos < size:
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                raise cut  # inside a chunk's id or size
            cid, clen = struct.unpack(f"{order}4sI", chunk)
            if cid == samples_chunk:
                return  # whether its samples are all there: check_iff_complete
            if pos + 8 + clen > size:
                raise cut  # inside a chunk before the samples (fmt, LIST, ...)
            pos += 8 + clen + (clen & 1)
        declared = struct.unpack(f"{order}I", head[4:8])[0]
        if declared in (0, 0xFFFFFFFF) or 8 + declared > size:  # unset (a streaming writer), or bytes missing
            raise cut


def wav_length_unset(path: Path) -> bool:
    """A WAV whose data chunk says 0 bytes, with bytes after it, and whose RIFF size was never written either (0,
    0xFFFFFFFF, or just the header's): what a streaming writer leaves when it cannot seek back to patch the header
    (`ffmpeg -f wav pipe:` in some versions, a recorder that crashed). Players and FFmpeg read such data to the end
    of the file; libsndfile reads none, and a stranger's 2.96 s was refused as holding no audio. A writer that
    patched the RIFF size but not the data size leaves the same: a RIFF size that takes in samples, not chunks. A
    data chunk of 0 bytes followed by whole chunks (a LIST chunk) up to the RIFF size's end is empty indeed."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return False
        riff = struct.unpack("<I", head[4:8])[0]
        found = _find_chunk(fh, b"data", size=size)
        if found is None:
            return False
        payload, clen = found[0] + 8, found[1]
        return clen == 0 and payload < size and (riff in (0, 0xFFFFFFFF) or 8 + riff <= payload
                                                 or not _whole_chunks(fh, payload, min(8 + riff, size)))


def wav_format(path: Path) -> tuple[int, int] | None:
    """(channels, sample rate) of a WAV's fmt chunk, None where there is none: what its header declares, for a WAV
    libsndfile will not open ("Too many channels specified", "SF_INFO struct incomplete" for a rate of 0 or 4 GHz),
    so that the limits say what is wrong with it (a stranger's 65535-channel WAV had been `corrupt_audio`)."""
    fields = _wav_fmt_fields(path)
    if fields is None:
        return None
    _, channels, rate = fields
    return channels, rate


# WAV format tags (the fmt chunk's first field) libsndfile decodes: PCM, MS ADPCM, IEEE float, A-law, u-law, IMA ADPCM,
# GSM 6.10, G.721, MPEG layer 3 and WAVE_FORMAT_EXTENSIBLE. FFmpeg decodes more (FLAC 0xF1AC, G.726 0x0045, ...).
SNDFILE_WAV_TAGS = frozenset({0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0x0040, 0x0055, 0xFFFE})


def wav_codec_tag(path: Path) -> int | None:
    """The format tag of a WAV's fmt chunk (1 for PCM, 0xF1AC for FLAC, ...), None where there is none."""
    fields = _wav_fmt_fields(path)
    return None if fields is None else fields[0]


def _wav_fmt_fields(path: Path) -> tuple[int, int, int] | None:
    """(format tag, channels, sample rate) of a RIFF/RF64 WAVE file's fmt chunk; None where there is none."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return None
        if _find_chunk(fh, b"fmt ", size=size) is None:
            return None
        fields = fh.read(8)  # the file is at the chunk's body
        return struct.unpack("<HHI", fields) if len(fields) == 8 else None


def _find_chunk(fh: BinaryIO, chunk: bytes, *, size: int, order: str = "<") -> tuple[int, int] | None:
    """(offset, declared size) of the first `chunk` among the top-level chunks after a RIFF/FORM header of 12 bytes,
    the file left at its body; None where there is none. `order`: the sizes' byte order ("<" RIFF, ">" AIFF)."""
    pos = 12
    while pos + 8 <= size:
        fh.seek(pos)
        cid, clen = struct.unpack(f"{order}4sI", fh.read(8))
        if cid == chunk:
            return pos, clen
        pos += 8 + clen + (clen & 1)
    return None


def _whole_chunks(fh: BinaryIO, start: int, end: int) -> bool:
    """The bytes from `start` to `end` are RIFF chunks: each a printable four-letter id and a size that ends within
    them (the last one's pad byte may be missing), as a file's chunks after its data are, and samples are not."""
    pos = start
    while pos + 8 <= end:
        fh.seek(pos)
        cid, clen = struct.unpack("<4sI", fh.read(8))
        if not all(32 <= b < 127 for b in cid):
            return False
        pos += 8 + clen + (clen & 1)
    return pos in (end, end + 1)


# the last Ogg page starts within this many bytes of the end: a page holds at most 255 segments of 255 bytes
OGG_TAIL_BYTES = 27 + 255 + 255 * 255


def check_ogg_complete(path: Path) -> None:
    """An Ogg file whose last page declares more bytes than the file holds was cut off (a stranger's first 100 KB
    of a 40 s OGG decoded as a valid 8 s file: libsndfile stops at the last whole packet without a word).

    A file cut exactly between pages passes; a stream without its end-of-stream page (an Icecast dump) too.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - OGG_TAIL_BYTES))
        tail = fh.read()
    start = tail.rfind(b"OggS\x00")
    while start >= 0 and start + 5 < len(tail) and tail[start + 5] > 7:  # not a page's flags: a chance match
        start = tail.rfind(b"OggS\x00", 0, start)
    if start < 0:
        return  # no page header in the tail: nothing to check here (the decoder has read the stream)
    present = len(tail) - start
    segments = tail[start + 26] if present > 26 else 0
    claimed = 27 + segments + sum(tail[start + 27:start + 27 + segments])
    if present < 27 or present < 27 + segments or claimed > present:
        raise AudioError(f"the file is truncated: its last Ogg page is cut off ({present} of its bytes are "
                         "present)", code="truncated_audio")


def check_flac_complete(path: Path, *, believe_total: bool = True) -> None:
    """A native FLAC whose frames end before the total its STREAMINFO declares was cut off. libsndfile loses
    sync in the cut frame and the upload had been refused as `corrupt_audio`, "the decoder stopped inside it",
    where a cut WAV, MP3, Ogg or M4A is `truncated_audio`. The frames are counted by FFmpeg's demuxer (their
    headers, no decoding); a file damaged inside whose frames run to the declared end is not truncated.
    `believe_total` False: that total, past the duration limit, is not borne out by the frames and is taken for a
    lie (worker/declared_length.py); only the last frame is checked.
    """
    walked = _flac_frames(path)
    if walked is None:
        return
    total, present, last = walked
    if believe_total and present < total:
        raise AudioError(f"the file is truncated: its STREAMINFO declares {total} frames, {present} are present",
                         code="truncated_audio")
    if len(last) > 2 and _crc16(last[:-2]) != int.from_bytes(last[-2:], "big"):  # its last frame is cut
        raise AudioError("the file is truncated: its last FLAC frame is cut off", code="truncated_audio")


def _flac_frames(path: Path) -> tuple[int, int, bytes] | None:
    """(STREAMINFO's total, frames present by the frames' headers, the last frame's bytes) of a native FLAC that
    declares its total; None for another file, an unset total or a file FFmpeg's demuxer cannot walk."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or head[:4] != b"fLaC" or head[4] & 0x7F != 0:  # STREAMINFO is the first metadata block
        return None
    packed = int.from_bytes(head[18:26], "big")  # sample rate (20 bits), channels-1 (3), bits-1 (5), total (36)
    total, rate = packed & ((1 << 36) - 1), packed >> 44
    if not total or not rate:
        return None  # a streamed encoder's unset total: nothing to compare with
    import av

    end, last = 0.0, b""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            for packet in container.demux(stream):
                if packet.pts is not None and packet.time_base is not None and packet.size:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                    last = bytes(packet)
    except (av.error.FFmpegError, IndexError):
        return None
    return total, round(end * rate), last


def _crc16(data: bytes) -> int:
    """A FLAC frame's CRC-16 (polynomial 0x8005, unreflected, initial 0), which closes every frame."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc
