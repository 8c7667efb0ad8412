"""Synthetic test audio with known answers, written in real formats by real encoders."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100  # Hz


def sine(freq: float = 440.0, seconds: float = 2.0, *, sr: int = SR, amp: float = 0.5,
         channels: int = 1) -> np.ndarray:
    """(samples, channels) float32 sine."""
    t = np.arange(int(seconds * sr)) / sr
    y = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(y[:, None], channels, axis=1)


def write(path: Path, y: np.ndarray, *, sr: int = SR) -> Path:
    """Write by extension: wav/flac/ogg/mp3/aiff/caf through libsndfile, m4a (AAC) through ffmpeg."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext == "m4a":
        wav = path.with_suffix(".tmp.wav")
        sf.write(wav, y, sr)
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "128k",
                        str(path)], check=True)
        wav.unlink()
        return path
    fmt = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3", "aiff": "AIFF", "aif": "AIFF", "caf": "CAF"}[ext]
    sf.write(path, y, sr, format=fmt)
    return path


def flac_declaring(path, *, source, total_samples: int):
    """A copy of the FLAC `source` whose STREAMINFO says it holds `total_samples` per channel (0: unknown)."""
    data = bytearray(source.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO is the first metadata block
    # bytes 18-25: sample rate (20 bits), channels-1 (3), bits-1 (5), total samples (36)
    packed = int.from_bytes(data[18:26], "big")
    packed = (packed & ~((1 << 36) - 1)) | total_samples
    data[18:26] = packed.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path


def _ogg_crc(page: bytes) -> int:
    """The Ogg page checksum: CRC-32, polynomial 0x04C11DB7, unreflected, over the page with its CRC field 0."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        crc &= 0xFFFFFFFF
    return crc


def opus_starting_early(src: Path, dst: Path, *, samples: int) -> Path:
    """A copy of the Ogg Opus file `src` whose first audio page's granule position is `samples` lower, so the
    stream starts at a negative time (`ffprobe` start_pts -samples), as FFmpeg writes some encodes (a stranger's
    Wesnoth tracks to Opus: start_pts -139). libsndfile refuses such a file as malformed; FFmpeg reads it."""
    data = bytearray(Path(src).read_bytes())
    pos, page = 0, 0
    while pos < len(data):
        assert data[pos:pos + 4] == b"OggS"
        size = 27 + data[pos + 26] + sum(data[pos + 27:pos + 27 + data[pos + 26]])
        granule = struct.unpack_from("<q", data, pos + 6)[0]
        if page >= 2 and granule > 0:  # after OpusHead and OpusTags
            struct.pack_into("<q", data, pos + 6, granule - samples)
            struct.pack_into("<I", data, pos + 22, 0)
            struct.pack_into("<I", data, pos + 22, _ogg_crc(bytes(data[pos:pos + size])))
            break
        pos, page = pos + size, page + 1
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


MATROSKA_CLUSTER_ID = b"\x1f\x43\xb6\x75"


def webm_clusters_unsized(src: Path, dst: Path) -> Path:
    """A copy of the WebM `src`, written to a pipe (its segment's size already "unknown"), whose clusters' sizes
    are "unknown" too, as Chromium's MediaRecorder writes them: every value bit of each size set, its length kept.
    FFmpeg reads such a file; only its blocks still say where they end."""
    data = bytearray(Path(src).read_bytes())

    def element(at: int) -> tuple[bytes, int, int, int]:  # id, where its size starts, the size's length, the size
        size_at = at + 9 - data[at].bit_length()
        size_len = 9 - data[size_at].bit_length()
        value = int.from_bytes(data[size_at:size_at + size_len], "big") & ((1 << 7 * size_len) - 1)
        return bytes(data[at:size_at]), size_at, size_len, value

    _, size_at, size_len, value = element(0)  # the EBML header, then the segment
    _, size_at, size_len, value = element(size_at + size_len + value)
    assert value == (1 << 7 * size_len) - 1, "the segment's size is known: not written to a pipe"
    pos, clusters = size_at + size_len, 0
    while pos < len(data):
        eid, size_at, size_len, value = element(pos)
        if eid == MATROSKA_CLUSTER_ID:
            data[size_at] |= (1 << (8 - size_len)) - 1
            data[size_at + 1:size_at + size_len] = b"\xff" * (size_len - 1)
            clusters += 1
        pos = size_at + size_len + value
    assert clusters > 0
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def _descriptor(tag: int, body: bytes) -> bytes:
    """An MPEG-4 descriptor (ISO 14496-1) of under 128 bytes: its tag, its length in one byte, its body."""
    assert len(body) < 128
    return bytes([tag, len(body)]) + body


def _caf_varint(value: int) -> bytes:
    """A CAF packet table's integer: 7 bits a byte, most significant first, the high bit on all but the last."""
    groups = [value & 0x7F]
    while value := value >> 7:
        groups.append(value & 0x7F)
    return bytes([g | 0x80 for g in reversed(groups[1:])] + [groups[0]])


def aac_caf(path: Path, y: np.ndarray, *, sr: int = SR) -> Path:
    """AAC in a CAF, as Apple Loops hold it: FFmpeg's AAC encoder (through PyAV) for the packets, the CAF chunks
    written here (FFmpeg's CAF muxer refuses AAC): `desc`, `kuki` (the esds atom's body, as Apple writes it), `pakt`
    (each packet's size; the encoder's 1024 frames of delay as the priming) and `data`. y: (channels, n) float32."""
    import av

    channels, frames = y.shape
    encoder = av.CodecContext.create("aac", "w")
    encoder.sample_rate, encoder.layout, encoder.format = sr, {1: "mono", 2: "stereo"}[channels], "fltp"
    encoder.bit_rate = 128_000
    encoder.open()
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y, dtype=np.float32), format="fltp",
                                       layout=encoder.layout.name)
    frame.sample_rate, frame.pts = sr, 0
    packets = [bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)]]
    config = _descriptor(0x04, bytes([0x40, 0x15]) + bytes(3) + struct.pack(">II", 128_000, 128_000)
                         + _descriptor(0x05, bytes(encoder.extradata)))
    cookie = bytes(4) + _descriptor(0x03, bytes(3) + config + _descriptor(0x06, b"\x02"))  # version+flags first
    priming = 1024
    table = b"".join(_caf_varint(len(p)) for p in packets)
    pakt = struct.pack(">qqii", len(packets), frames, priming, len(packets) * 1024 - frames - priming) + table
    desc = struct.pack(">d4sIIIII", sr, b"aac ", 2, 0, 1024, channels, 0)  # flags 2: AAC LC; packets vary in size

    def chunk(kind: bytes, body: bytes) -> bytes:
        return kind + struct.pack(">q", len(body)) + body

    Path(path).write_bytes(b"caff\x00\x01\x00\x00" + chunk(b"desc", desc) + chunk(b"kuki", cookie)
                           + chunk(b"pakt", pakt) + chunk(b"data", bytes(4) + b"".join(packets)))
    return Path(path)
