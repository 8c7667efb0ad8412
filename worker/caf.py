"""Apple Core Audio Format (`.caf`: Logic's and GarageBand's exports, Apple Loops): which are taken, whether one is
whole.

A CAF file is the 8-byte file header `caff` (version 1), then chunks: a four-letter type and a signed 64-bit
big-endian size, the `desc` chunk (the stream's description) first. The samples are in the `data` chunk (after a
4-byte edit count), whose size may be -1, "to the end of the file", where it is the last chunk. Audio whose packets
vary in size (ALAC, AAC) has a packet table, `pakt`: the packet count, the valid frames and, per packet, its byte
size (and frame count where that varies too) as variable-length integers.

Decoders shorten a cut file without a word, or fail it as not audio: PyAV decoded the first 60 % of a PCM CAF as a
valid file 60 % as long, and failed a cut ALAC one with InvalidDataError; libsndfile calls both "malformed".
`check_complete` walks the chunks without decoding: a chunk that runs past the end of the file, a packet table that
is missing (FFmpeg writes it after the data) or that declares more bytes than data of unstated size hold, or PCM
data of unstated size that stops inside a frame, is `truncated_audio`. PCM data of unstated size cut exactly between
frames cannot be told from a whole file (as a WAV whose lengths were never written).
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

import numpy as np

from worker.errors import AudioError

MAGIC = b"caff"
VERSION = b"\x00\x01"  # the only one: a text that starts "caff" (caffeine) is no CAF file
FILE_HEADER_BYTES = 8  # 'caff', version (uint16), flags (uint16)
CHUNK_HEADER_BYTES = 12  # type (4 chars), size (int64, big-endian)
EDIT_COUNT_BYTES = 4  # the data chunk's first field, before the samples
DESC_BYTES = 32  # sample rate (float64), format id, flags, bytes per packet, frames per packet, channels, bits
PAKT_HEADER_BYTES = 24  # packets (int64), valid frames (int64), priming frames (int32), remainder frames (int32)
TO_END_OF_FILE = -1  # a data chunk's size written before its length was known
MAX_VARINT_BYTES = 9  # a packet table's integers are at most 64 bits, 7 to a byte

# the codecs taken in a CAF, FFmpeg's decoder names: what Logic and GarageBand export and Apple Loops hold (PCM,
# ALAC, AAC, IMA4: adpcm_ima_qt). libsndfile reads PCM and ALAC; FFmpeg the rest. Others FFmpeg reads in a CAF
# (Opus, MP3, GSM) are refused in words (refused_formats.py), as codecs outside WebM's are in Matroska.
PCM_PREFIX = "pcm_"
CODECS = frozenset({"alac", "aac", "adpcm_ima_qt"})
EXTENSIONS = frozenset({"caf"})


def is_caf(head: bytes) -> bool:
    """Whether a file's first bytes are a CAF file header."""
    return head[:6] == MAGIC + VERSION


def takes_codec(codec: str) -> bool:
    """Whether FFmpeg's decoder `codec` is one taken in a CAF (any PCM: integer, float, A-law, mu-law; CODECS)."""
    return codec.startswith(PCM_PREFIX) or codec in CODECS


def _truncated(what: str) -> AudioError:
    return AudioError(f"the file is truncated: {what}", code="truncated_audio")


def check_complete(path: Path) -> None:
    """Raise AudioError `truncated_audio` where the CAF file was cut off; return for anything not CAF (and for a
    CAF whose damage is inside, which the decoder judges)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if not is_caf(fh.read(6)):
            return
        if size < FILE_HEADER_BYTES + CHUNK_HEADER_BYTES + DESC_BYTES:
            raise _truncated(f"it ends inside its CAF header ({size} bytes)")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            chunks = _chunks(data, size)
            desc = chunks.get(b"desc")
            if desc is None or desc[1] < DESC_BYTES:
                return  # not a stream description: the decoder says what is wrong
            bytes_per_packet, frames_per_packet = struct.unpack(">II", data[desc[0] + 16:desc[0] + 24])
            found = chunks.get(b"data")
            if found is None:
                raise _truncated("it ends before its audio data (no CAF data chunk)")
            length = found[1] - EDIT_COUNT_BYTES  # the audio's bytes
            if bytes_per_packet and frames_per_packet:  # constant-size packets: PCM
                if found[2] and length % bytes_per_packet:  # a declared size was checked by the walk
                    raise _truncated(f"its CAF audio data stops inside a frame ({length} bytes, frames of "
                                     f"{bytes_per_packet})")
                return
            pakt = chunks.get(b"pakt")
            if pakt is None:
                raise _truncated("its CAF packet table (pakt), which compressed audio needs, is missing")
            needed = _packet_bytes(data, pakt, bytes_per_packet=bytes_per_packet,
                                   frames_per_packet=frames_per_packet)
            if needed is not None and needed > length and found[2]:
                raise _truncated(f"its CAF packet table declares {needed} bytes of audio, {length} are present")


def _chunks(data: mmap.mmap, size: int) -> dict[bytes, tuple[int, int, bool]]:
    """{type: (offset of its body, body bytes, whether the size was "to the end of the file")} of the first chunk of
    each type; raises `truncated_audio` where a chunk runs past the end. Fewer bytes than a chunk header after the
    last chunk end the walk: libsndfile pads its ALAC files with one (a chunk cut there is missing, and the caller
    says so where the audio needs it)."""
    found: dict[bytes, tuple[int, int, bool]] = {}
    pos = FILE_HEADER_BYTES
    while pos + CHUNK_HEADER_BYTES <= size:
        kind, length = struct.unpack(">4sq", data[pos:pos + CHUNK_HEADER_BYTES])
        body = pos + CHUNK_HEADER_BYTES
        to_end = length == TO_END_OF_FILE and kind == b"data"
        if to_end:
            length = size - body
        elif length < 0:
            return found  # not a size: damage inside, for the decoder to judge
        if body + length > size:
            raise _truncated(f"its CAF {kind.decode('latin-1')!r} chunk declares {length} bytes, {size - body} "
                             "are present")
        found.setdefault(kind, (body, length, to_end))
        pos = body + length
    return found


def _packet_bytes(data: mmap.mmap, pakt: tuple[int, int, bool], *, bytes_per_packet: int,
                  frames_per_packet: int) -> int | None:
    """Bytes of audio the packet table declares; None where the table cannot be read (damage: the decoder's)."""
    body, length, _ = pakt
    if length < PAKT_HEADER_BYTES:
        return None
    packets = struct.unpack(">q", data[body:body + 8])[0]
    if packets < 0:
        return None
    if bytes_per_packet:
        return packets * bytes_per_packet
    per_packet = 1 if frames_per_packet else 2  # a size, and a frame count where that varies too
    wanted = packets * per_packet
    table = np.frombuffer(data, dtype=np.uint8, count=length - PAKT_HEADER_BYTES, offset=body + PAKT_HEADER_BYTES)
    values = _varints(table, wanted)
    return None if values is None else int(values[::per_packet].sum())


def _varints(table: np.ndarray, count: int) -> np.ndarray | None:
    """The first `count` variable-length integers of `table` (7 bits a byte, most significant first, the high bit
    set on all but the last byte), vectorised: a packet table holds one or two per packet, 38 000 an hour of ALAC.
    None where the table holds fewer, or one longer than MAX_VARINT_BYTES."""
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.flatnonzero(table < 0x80)[:count]
    if len(ends) < count:
        return None
    starts = np.concatenate(([0], ends[:-1] + 1))
    if int((ends - starts).max()) >= MAX_VARINT_BYTES:
        return None
    used = table[:ends[-1] + 1].astype(np.int64) & 0x7F
    last = np.repeat(ends, ends - starts + 1)  # for each byte, where its integer ends
    shifted = used << (7 * (last - np.arange(len(used))))
    return np.add.reduceat(shifted, starts)
