"""Streaming decode: a file (or an array) as blocks of mono float32 audio at a target rate (or of every channel).

Memory stays bounded by the block length whatever the file's duration: each block is
decoded (libsndfile, or PyAV/FFmpeg for what libsndfile refuses), averaged to mono (audio_io.to_mono) and
resampled by a streaming soxr resampler, whose output is sample-for-sample the one-shot
`soxr.resample` of the whole signal. Iterating twice decodes twice (no cache).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from worker.audio_complete import check_iff_header_complete
from worker.audio_io import as_float32, declared_frames, length_guessed, open_soundfile, to_mono
from worker.audio_limits import check_finite
from worker.av_frames import decoded_frames
from worker.declared_length import av_reaches
from worker.errors import AudioError, UnsupportedMediaError

BLOCK_SECONDS = 10.0  # s of audio per block at the file's rate (~3.5 MB of 44.1 kHz stereo float32)


@dataclass(frozen=True)
class StreamInfo:
    sample_rate: int  # Hz, the file's native rate
    channels: int
    frames: int | None  # samples per channel, when the container declares it


def stream_info(path: str | Path) -> StreamInfo:
    """Rate, channel count and (declared) length of an audio file, without decoding it."""
    path = Path(path)
    try:
        with open_soundfile(path) as f:  # what libsndfile cannot read to the end is FFmpeg's (open_soundfile)
            return StreamInfo(int(f.samplerate), int(f.channels), declared_frames(int(f.frames)))
    except (sf.LibsndfileError, RuntimeError):
        return _av_info(path)


def _av_info(path: Path) -> StreamInfo:
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            ctx = stream.codec_context
            frames = None  # an MP3's or raw AAC's duration is a guess from its first frame's bitrate
            if stream.duration is not None and stream.time_base is not None \
                    and not length_guessed(container.format.name):
                frames = int(stream.duration * stream.time_base * ctx.sample_rate)
            if frames and not av_reaches(path, frames / ctx.sample_rate):  # a header's lie, not a length
                frames = None
            return StreamInfo(int(ctx.sample_rate), int(ctx.channels), frames)
    except (av.error.FFmpegError, IndexError) as e:
        check_iff_header_complete(path)  # a WAV cut inside its header (placed beside the upload check): truncated
        raise UnsupportedMediaError("not a decodable audio file (no decoder here reads it)", code="not_audio") from e


def _native_blocks(path: Path, block_frames: int) -> Iterator[tuple[np.ndarray, int]]:
    """(mono float32 block, native rate) pairs straight from the decoder."""
    for block, sr in _native_channel_blocks(path, block_frames):
        yield to_mono(block), sr


def _native_channel_blocks(path: Path, block_frames: int) -> Iterator[tuple[np.ndarray, int]]:
    """((channels, n) float32 block, native rate) pairs straight from the decoder."""
    try:
        f = open_soundfile(path)
    except (sf.LibsndfileError, RuntimeError):
        yield from _av_blocks(path, block_frames)
        return
    with f:
        sr = f.samplerate
        while True:
            try:
                block = f.read(block_frames, dtype="float32", always_2d=True)
            except RuntimeError as e:  # libsndfile decode error mid-stream
                raise AudioError("the audio stream is corrupt (the decoder stopped inside it)",
                                 code="corrupt_audio") from e
            if len(block) == 0:
                return
            check_finite(block)  # a float file placed beside the upload check would break every analysis
            yield np.ascontiguousarray(block.T), sr


def channel_blocks(path: str | Path, *, block_seconds: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """Blocks of (channels, n) float32 audio at the file's own rate; concatenated, `load_audio(path)`."""
    path = Path(path)
    block_frames = max(1024, int(block_seconds * stream_info(path).sample_rate))
    for block, _ in _native_channel_blocks(path, block_frames):
        yield block


def count_frames(path: str | Path) -> int:
    """Samples per channel, by decoding (for a file whose header does not declare its length)."""
    return sum(block.shape[1] for block in channel_blocks(path))


def _av_blocks(path: Path, block_frames: int) -> Iterator[tuple[np.ndarray, int]]:
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as e:
        raise UnsupportedMediaError("not a decodable audio file (no decoder here reads it)", code="not_audio") from e
    with container:
        if not container.streams.audio:
            raise UnsupportedMediaError("the file has no audio stream", code="not_audio")
        stream = container.streams.audio[0]
        sr = int(stream.codec_context.sample_rate)
        pending: list[np.ndarray] = []
        held = 0
        try:
            for frame in decoded_frames(container, stream):
                a = frame.to_ndarray()
                a = a if frame.format.is_planar else a.reshape(-1, frame.layout.nb_channels).T
                pending.append(as_float32(a))
                check_finite(pending[-1])
                held += pending[-1].shape[1]
                if held >= block_frames:
                    yield np.concatenate(pending, axis=1), sr
                    pending, held = [], 0
        except av.error.FFmpegError as e:
            raise UnsupportedMediaError("not a decodable audio file (no decoder here reads it)",
                                        code="not_audio") from e
        if pending:
            yield np.concatenate(pending, axis=1), sr


def resampled_blocks(blocks: Iterable[tuple[np.ndarray, int]], target_sr: int | None) -> Iterator[np.ndarray]:
    """(mono block, rate) pairs at `target_sr` (None: as they come) through one streaming soxr 'HQ'
    resampler: concatenated, equal to resampling the concatenation at once."""
    import soxr

    stream = None
    for block, sr in blocks:
        if target_sr is None or sr == target_sr:
            yield block
            continue
        if stream is None:
            stream = soxr.ResampleStream(sr, target_sr, 1, dtype="float32", quality="HQ")
        out = stream.resample_chunk(block)
        if len(out):
            yield out
    if stream is not None:
        tail = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(tail):
            yield tail


def mono_blocks(path: str | Path, *, target_sr: int | None = None,
                block_seconds: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """Blocks of mono float32 audio of the file at `target_sr` Hz (None: the file's rate).

    Concatenated, the blocks equal `load_audio(path, sr=target_sr, mono=True)` (same decoder and
    soxr 'HQ' resampler). Raises AudioError/UnsupportedMediaError for what cannot be decoded.
    """
    path = Path(path)
    block_frames = max(1024, int(block_seconds * stream_info(path).sample_rate))
    yield from resampled_blocks(_native_blocks(path, block_frames), target_sr)


def array_blocks(y: np.ndarray, *, sr: int, target_sr: int | None = None,
                 block_seconds: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """The same blocks from a mono (n,) array already in memory (for `analyze_music(y, sr)`)."""
    step = max(1024, int(block_seconds * sr))
    native = ((np.asarray(y[a : a + step], dtype=np.float32), sr) for a in range(0, len(y), step))
    yield from resampled_blocks(native, target_sr)


def channel_array_blocks(y: np.ndarray, *, block_frames: int) -> Iterator[np.ndarray]:
    """(channels, n) float32 blocks of an array in memory ((channels, n) or (n,)), `block_frames` at most."""
    data = np.atleast_2d(np.asarray(y, dtype=np.float32))
    for start in range(0, data.shape[1], block_frames):
        yield data[:, start:start + block_frames]
