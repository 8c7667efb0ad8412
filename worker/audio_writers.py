"""Streaming, atomic audio file writers: WAV (32-bit float), FLAC (24-bit), MP3 (lameenc).

A writer takes float32 blocks `(channels, samples)` one after another, so a stem of any length is written
with constant memory. The data go to a temporary file beside the target, renamed over it by `commit()`;
`abort()` (or an exception inside `with`) removes it, so no partial result is ever visible.

libsndfile reports a failed write without its errno (`LibsndfileError` with an empty message), so a
soundfile error while the folder's filesystem has (almost) no space left is reported as the full disk
it is: `InsufficientStorageError`, like the OSError the MP3 writer gets (worker/errors.py).
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from worker.errors import DISK_FULL_MESSAGE, InsufficientStorageError, InvalidRequestError
from worker.files import atomic_path

AUDIO_FORMATS = ("wav", "flac", "mp3")
MP3_BITRATE = 320  # kbit/s
MP3_QUALITY = 2  # LAME's -q: 2 is "near-best", 0 is much slower for no audible gain
MP3_MAX_CHANNELS = 2
MP3_MAX_INPUT_RATE = 48000  # Hz; above this LAME is asked to resample
# the rates an MP3 can have (MPEG 1, 2 and 2.5); another is resampled by LAME to the next one up (LAME's own
# map2MP3Frequency), above MP3_MAX_INPUT_RATE to 44.1 kHz
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
# frames handed to LAME at a time: lameenc sizes its output buffer for the input, and a rate resampled up (a
# 4 kHz file to 8 kHz) overflowed it on a separation's 30 s blocks ("LAME encoding failed", internal_error)
MP3_CHUNK_FRAMES = 4096
_SF_SUBTYPES = {"wav": "FLOAT", "flac": "PCM_24"}  # float WAV never clips stems that exceed full scale
# A write that fails with less than this free fills the disk: a writer's block is a few MB at most, and
# the kernel writes what fits before it refuses, so a full disk shows well under this after the failure.
FULL_DISK_SLACK_BYTES = 1024 * 1024


def mp3_sample_rate(sample_rate: float) -> int:
    """The rate of an MP3 written from audio at `sample_rate` (MP3_RATES)."""
    if sample_rate > MP3_MAX_INPUT_RATE:
        return 44100
    return next(rate for rate in MP3_RATES if rate >= sample_rate)


class AudioFileWriter:
    """`with AudioFileWriter(path, sample_rate=sr, channels=c, format="flac") as w: w.write(block)`."""

    def __init__(self, path: Path, *, sample_rate: int, channels: int, format: str):
        if format not in AUDIO_FORMATS:
            raise InvalidRequestError(f"unknown audio format {format!r}; use one of {', '.join(AUDIO_FORMATS)}")
        if format == "mp3" and channels > MP3_MAX_CHANNELS:
            raise InvalidRequestError(f"MP3 holds at most 2 channels, the audio has {channels}: use wav or flac",
                                      code="invalid_format")
        self.path, self.format, self.channels, self.sample_rate = Path(path), format, channels, sample_rate
        self.frames = 0
        self._stack = ExitStack()
        self._tmp = self._stack.enter_context(atomic_path(self.path))
        self._closed = False
        try:
            if format == "mp3":
                import lameenc

                self._fh = open(self._tmp, "wb")
                self._enc = lameenc.Encoder()
                self._enc.set_bit_rate(MP3_BITRATE)
                self._enc.set_in_sample_rate(int(sample_rate))
                self._enc.set_out_sample_rate(mp3_sample_rate(sample_rate))
                self._enc.set_channels(channels)
                self._enc.set_quality(MP3_QUALITY)
            else:
                import soundfile as sf

                try:
                    self._sf = sf.SoundFile(str(self._tmp), "w", samplerate=int(sample_rate), channels=channels,
                                            format=format.upper(), subtype=_SF_SUBTYPES[format])
                except RuntimeError as e:  # LibsndfileError
                    raise self._sndfile_failure(e) from e
        except BaseException as e:
            self._stack.__exit__(type(e), e, e.__traceback__)
            raise

    def write(self, block: np.ndarray) -> None:
        """block: (channels, samples) float32 in [-1, 1] (WAV keeps values beyond; FLAC/MP3 clip them)."""
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 1:
            block = block[None]
        if block.shape[0] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got {block.shape[0]}")
        if block.shape[1] == 0:
            return
        self.frames += block.shape[1]
        if self.format == "mp3":
            pcm = (np.clip(block.T, -1.0, 1.0) * 32767.0).round().astype("<i2")
            for start in range(0, pcm.shape[0], MP3_CHUNK_FRAMES):
                self._fh.write(self._enc.encode(pcm[start:start + MP3_CHUNK_FRAMES].tobytes()))
        else:
            data = block.T if self.format == "wav" else np.clip(block.T, -1.0, 1.0 - 2.0 ** -23)
            try:
                self._sf.write(np.ascontiguousarray(data))
            except RuntimeError as e:  # LibsndfileError
                raise self._sndfile_failure(e) from e

    def commit(self) -> Path:
        """Finish the file and move it into place."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            if self.format == "mp3":
                self._fh.write(self._enc.flush())
                self._fh.close()
            else:
                try:
                    self._sf.close()
                except RuntimeError as e:  # LibsndfileError: the last blocks did not fit
                    raise self._sndfile_failure(e) from e
        except BaseException as e:
            self._stack.__exit__(type(e), e, e.__traceback__)
            raise
        self._stack.close()
        return self.path

    def _sndfile_failure(self, error: RuntimeError) -> Exception:
        try:
            st = os.statvfs(self.path.parent)
        except OSError:
            return error
        if st.f_bavail * st.f_frsize < FULL_DISK_SLACK_BYTES:
            return InsufficientStorageError(DISK_FULL_MESSAGE)
        return error

    def abort(self) -> None:
        """Drop the temporary file; the target is left as it was."""
        if self._closed:
            return
        self._closed = True
        try:
            (self._fh if self.format == "mp3" else self._sf).close()
        finally:
            err = RuntimeError("aborted")
            self._stack.__exit__(RuntimeError, err, None)

    def __enter__(self) -> AudioFileWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_audio(path: Path, y: np.ndarray, *, sample_rate: int, format: str = "wav") -> Path:
    """Write a whole array `(channels, samples)` or `(samples,)` atomically."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[None]
    with AudioFileWriter(path, sample_rate=sample_rate, channels=y.shape[0], format=format) as w:
        w.write(y)
    return Path(path)
