"""Plumbing around the overlap-add runner: blocks in, stems out, rates and channels converted on the fly.

Input is read in blocks (soundfile, or PyAV for what libsndfile cannot read), normalised like demucs'
separator (the mono mix's mean and standard deviation, measured in a first pass), laid out as the model
wants its channels and resampled to the model's rate with a soxr stream. Output blocks take the reverse
way and go to a `StemOutput` (files or arrays). Nothing here holds more than a few blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from worker.audio_io import BLOCK_FRAMES, as_float32, open_soundfile
from worker.audio_writers import AudioFileWriter
from worker.declared_length import av_reaches
from worker.errors import AudioError
from worker.separation.runner import Track, overlap_add

STD_EPS = 1e-8  # demucs.api adds this to the mix's std (silence would divide by zero)


class StemOutput(Protocol):
    def write(self, stems: dict[str, np.ndarray]) -> None: ...  # {stem: (channels, n)}, same n for all
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class ArrayOutput:
    def __init__(self, names: list[str]):
        self._parts: dict[str, list[np.ndarray]] = {n: [] for n in names}

    def write(self, stems: dict[str, np.ndarray]) -> None:
        for name, block in stems.items():
            self._parts[name].append(block)

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        self._parts.clear()

    def result(self) -> dict[str, np.ndarray]:
        return {n: np.concatenate(p, axis=-1) for n, p in self._parts.items()}


class FileOutput:
    """One streaming, atomic AudioFileWriter per stem; abort() leaves no file behind."""

    def __init__(self, paths: dict[str, Path], *, sample_rate: int, channels: int, format: str):
        self.writers: dict[str, AudioFileWriter] = {}
        try:
            for name, path in paths.items():
                self.writers[name] = AudioFileWriter(path, sample_rate=sample_rate, channels=channels,
                                                     format=format)
        except BaseException:
            self.abort()
            raise

    def write(self, stems: dict[str, np.ndarray]) -> None:
        for name, block in stems.items():
            self.writers[name].write(block)

    def commit(self) -> None:
        for w in self.writers.values():
            w.commit()

    def abort(self) -> None:
        for w in self.writers.values():
            w.abort()


def file_blocks(path: Path) -> tuple[int, int, int, Callable[[], Iterator[np.ndarray]]]:
    """`(sample_rate, channels, frames_estimate, make_iterator)`; each iterator yields `(channels, n)` float32."""
    import soundfile as sf

    path = Path(path)
    try:
        with open_soundfile(path) as f:  # refuses a FLAC of undeclared length: libsndfile fails at its end
            sr, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
    except (sf.LibsndfileError, RuntimeError):
        return _av_blocks(path)

    def blocks() -> Iterator[np.ndarray]:
        with sf.SoundFile(str(path)) as f:
            for b in f.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
                yield b.T

    return sr, channels, frames, blocks


def _av_blocks(path: Path):
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            s = c.streams.audio[0]
            sr, channels = int(s.codec_context.sample_rate), int(s.codec_context.channels)
            seconds = float(s.duration) * float(s.time_base or 0) if s.duration else (c.duration or 0) / av.time_base
            if not seconds or not av_reaches(path, seconds):  # none declared (a browser's WebM: the progress bar had
                # none), or a header's lie (a FLAC whose STREAMINFO total is not borne out by its frames)
                seconds = _demuxed_seconds(c, s)
    except (av.error.FFmpegError, IndexError) as e:
        raise AudioError("not a decodable audio file (no decoder here reads it)", code="not_audio") from e

    def blocks() -> Iterator[np.ndarray]:
        with av.open(str(path), metadata_errors="ignore") as c:
            for frame in c.decode(c.streams.audio[0]):
                a = frame.to_ndarray()
                a = a if frame.format.is_planar else a.reshape(-1, channels).T
                yield as_float32(a)

    return sr, channels, int(seconds * sr), blocks


def _demuxed_seconds(container, stream) -> float:
    """Where the last packet of `stream` ends, read without decoding (packets only: seconds for an hour)."""
    end = 0
    for packet in container.demux(stream):
        if packet.pts is not None:
            end = max(end, packet.pts + (packet.duration or 0))
    return float(end * stream.time_base) if stream.time_base else 0.0


def mix_stats(blocks: Iterator[np.ndarray]) -> tuple[float, float]:
    """Mean and (unbiased) standard deviation of the channel-averaged signal, in one streaming pass."""
    n, s, ss = 0, 0.0, 0.0
    for b in blocks:
        m = b.astype(np.float64).mean(axis=0)
        n += m.size
        s += m.sum()
        ss += np.dot(m, m)
    if n < 2:
        return 0.0, 1.0
    mean = s / n
    var = max((ss - n * mean * mean) / (n - 1), 0.0)
    return mean, float(np.sqrt(var)) + STD_EPS


def to_model_channels(y: np.ndarray, model_channels: int | None) -> np.ndarray:
    """(C, n) -> (B, M, n): as is (DSP), mono duplicated, or consecutive channel pairs as a batch."""
    if model_channels is None:
        return y[None]
    c, m = y.shape[0], model_channels
    if c == 1:
        return np.repeat(y[None], m, axis=1)
    if c % m:
        y = np.concatenate([y, np.repeat(y[-1:], m - c % m, axis=0)])
    return y.reshape(-1, m, y.shape[-1])


def from_model_channels(z: np.ndarray, channels: int, model_channels: int | None) -> np.ndarray:
    """(B, S, M, n) -> (S, C, n), the inverse of `to_model_channels` (duplicates averaged back)."""
    if model_channels is None:
        return z[0]
    s, n = z.shape[1], z.shape[-1]
    if channels == 1:
        return z[0].mean(axis=1, keepdims=True)
    flat = z.transpose(1, 0, 2, 3).reshape(s, -1, n)
    out = flat[:, :channels].copy()
    if channels % model_channels:  # the last channel was padded with copies of itself
        out[:, -1] = flat[:, channels - 1:].mean(axis=1)
    return out


class _Resampler:
    """A soxr stream over `(channels, n)` blocks; identity when the rates match."""

    def __init__(self, in_rate: int, out_rate: int, channels: int):
        import soxr

        self._rs = None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, channels,
                                                                        dtype="float32", quality="HQ")
        self.channels = channels

    def __call__(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        if self._rs is None:
            return x
        y = self._rs.resample_chunk(np.ascontiguousarray(x.T, dtype=np.float32), last=last)
        return np.ascontiguousarray(y.T).reshape(self.channels, -1)


def stream_separation(tracks: list[Track], blocks: Callable[[], Iterator[np.ndarray]], *, sample_rate: int,
                      channels: int, frames_hint: int, model_rate: int | None, model_channels: int | None,
                      sources: list[str], normalize: bool, two_stems: str | None, output: StemOutput,
                      progress=None) -> int:
    """Separate the blocks into `output`; returns the number of frames written per stem."""
    mean, std = mix_stats(blocks()) if normalize else (0.0, 1.0)
    model_sr = model_rate or sample_rate
    batch = to_model_channels(np.zeros((channels, 1), np.float32), model_channels).shape[0]
    mch = model_channels or channels
    state = {"frames": 0, "eof": False}

    def model_blocks() -> Iterator[np.ndarray]:
        rs = _Resampler(sample_rate, model_sr, batch * mch)
        for y in blocks():
            state["frames"] += y.shape[-1]
            z = to_model_channels(y, model_channels)
            if normalize:
                z = (z - mean) / std
            z = rs(z.reshape(batch * mch, -1))
            if z.shape[-1]:
                yield z.reshape(batch, mch, -1)
        tail = rs(np.zeros((batch * mch, 0), np.float32), last=True)
        state["eof"] = True
        if tail.shape[-1]:
            yield tail.reshape(batch, mch, -1)

    names = [two_stems, f"no_{two_stems}"] if two_stems else list(sources)
    back = {n: _Resampler(model_sr, sample_rate, channels) for n in names}
    written = 0

    def push(stems: dict[str, np.ndarray], last: bool) -> None:
        nonlocal written
        out = {n: back[n](stems[n], last=last) for n in names}
        n = min(v.shape[-1] for v in out.values())
        if state["eof"]:
            n = min(n, state["frames"] - written)
        if n > 0:
            output.write({k: v[:, :n] for k, v in out.items()})
            written += n

    hint = int(round(frames_hint * model_sr / sample_rate))
    for z in overlap_add(tracks, model_blocks(), batch=batch, channels=mch, total_hint=hint, progress=progress):
        if normalize:
            z = z * std + mean
        est = from_model_channels(z, channels, model_channels)  # (S, C, n)
        if two_stems:
            k = sources.index(two_stems)
            push({two_stems: est[k], f"no_{two_stems}": est.sum(axis=0) - est[k]}, last=False)
        else:
            push(dict(zip(sources, est, strict=True)), last=False)
    push({n: np.zeros((channels, 0), np.float32) for n in names}, last=True)
    if written < state["frames"]:  # the resampler's last few samples: pad to the input's exact length
        pad = np.zeros((channels, state["frames"] - written), np.float32)
        output.write({n: pad for n in names})
        written = state["frames"]
    return written
