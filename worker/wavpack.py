"""WavPack (`.wv`, a producer's lossless archive): whether a file holds all the blocks its header declares.

libsndfile does not read WavPack ("Format not recognised"); FFmpeg does, so its files are decoded by PyAV. A
WavPack file is a run of blocks, each a 32-byte little-endian header (WavPack 4/5's `WavpackHeader`):
"wvpk", the block's bytes after these first 8 (uint32), the version (uint16), the upper 8 bits of the block index
and of the total (uint8 each), the total samples of the whole file (uint32; all ones: unknown), the block's first
sample (uint32), its samples (uint32), its flags (uint32) and a CRC. A stereo or mono file has one block per frame
(both INITIAL_BLOCK and FINAL_BLOCK set); a multichannel one several, the last with FINAL_BLOCK. FFmpeg's writer
puts the total in the first block only, so the first block's total (block index 0) is the one read.

A cut file: PyAV refused the first 60 % of one at open (InvalidDataError, which had read `not_audio`), and would
decode one cut exactly between blocks as a shorter file. `check_complete` walks the block headers without
decoding: a header cut in two, a block that runs past the end, blocks that stop before the declared total, or a
last frame without its final block, is `truncated_audio`. Bytes after the blocks that are not one (an APEv2 or
ID3v1 tag) end the walk.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

from worker.errors import AudioError

MAGIC = b"wvpk"
HEADER_BYTES = 32
PREAMBLE_BYTES = 8  # "wvpk" and the size, which counts what follows them
MIN_BLOCK_SIZE = HEADER_BYTES - PREAMBLE_BYTES  # a block's stated size holds at least the rest of its header
MAX_BLOCK_SIZE = 1 << 20  # bytes: the format's limit (FFmpeg's WV_BLOCK_LIMIT); past it, not a block
UNKNOWN_TOTAL = 0xFFFFFFFF  # the low 32 bits of a total that was not known when the file was written
FINAL_BLOCK = 1 << 12  # the flag of a frame's last block
VERSIONS = range(0x402, 0x410 + 1)  # the stream versions of WavPack 4 and 5 (what FFmpeg reads with this header)
EXTENSIONS = frozenset({"wv"})
CODECS = frozenset({"wavpack"})


def _truncated(what: str) -> AudioError:
    return AudioError(f"the file is truncated: {what}", code="truncated_audio")


def total_samples(header: bytes) -> int | None:
    """The 40-bit total of a block header (WavPack's GET_TOTAL_SAMPLES); None where it is unknown."""
    low, high = struct.unpack_from("<I", header, 12)[0], header[11]
    return None if low == UNKNOWN_TOTAL else low + (high << 32) - high


def block_span(header: bytes) -> tuple[int, int]:
    """(first sample, samples) of a block header: a 40-bit index (GET_BLOCK_INDEX) and a 32-bit count."""
    low, samples = struct.unpack_from("<II", header, 16)
    return low + (header[10] << 32), samples


def is_wavpack(head: bytes) -> bool:
    """Whether a file's first (10 or more) bytes start a WavPack 4/5 block."""
    return len(head) >= 10 and head[:4] == MAGIC and struct.unpack_from("<H", head, 8)[0] in VERSIONS


def check_complete(path: Path) -> None:
    """Raise AudioError `truncated_audio` where the WavPack file was cut off; return for anything not WavPack, or one
    whose damage is inside (a block of an impossible size), which the decoder judges."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if not is_wavpack(fh.read(10)):
            return  # not WavPack 4/5 (a text that starts "wvpk", or a cut header the decoder refuses)
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            total: int | None = None
            end, blocks, final = 0, 0, True
            pos = 0
            while pos < size:
                left = size - pos
                if data[pos:pos + min(4, left)] != MAGIC[:min(4, left)]:
                    break  # a tag after the blocks (APEv2, ID3v1) or junk: the walk ends
                if left < HEADER_BYTES:
                    raise _truncated(f"its last WavPack block header is cut off ({left} of {HEADER_BYTES} bytes, "
                                     f"after {blocks} whole blocks)")
                header = data[pos:pos + HEADER_BYTES]
                stated = struct.unpack_from("<I", header, 4)[0]
                if not MIN_BLOCK_SIZE <= stated <= MAX_BLOCK_SIZE:
                    return  # not a block's size: damage inside, for the decoder to judge
                if pos + PREAMBLE_BYTES + stated > size:
                    raise _truncated(f"its last WavPack block states {PREAMBLE_BYTES + stated} bytes, {left} are "
                                     "present")
                first, samples = block_span(header)
                if blocks == 0 and first == 0:
                    total = total_samples(header)
                if samples:
                    end = max(end, first + samples)
                    final = bool(struct.unpack_from("<I", header, 24)[0] & FINAL_BLOCK)
                blocks += 1
                pos += PREAMBLE_BYTES + stated
    if not final:
        raise _truncated("its last WavPack frame stops before its final block (channels are missing)")
    if total is not None and end < total:
        raise _truncated(f"its first WavPack block declares {total} samples, the blocks hold {end}")
