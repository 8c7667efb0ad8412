"""MFCC statistics of a stream of power spectrogram blocks, equal to librosa's on the whole spectrogram.

librosa's MFCC floors the log-mel spectrogram at its global maximum minus 80 dB, a maximum known only
at the end of the file. So each block's log-mel frames are kept (in memory up to SPILL_FRAMES, then
in an anonymous temporary file, unlinked from the start: 0.5 KB per frame, ~160 MB for an hour at
44.1 kHz, on disk rather than in RAM) and the floor, the DCT and the mean/std are applied in chunks
once the maximum is known.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO

import librosa
import numpy as np
import scipy.fft

N_MELS = 128
N_MFCC = 13
TOP_DB = 80.0  # librosa.power_to_db's default floor below the maximum
AMIN = 1e-10  # and its smallest power
SPILL_FRAMES = 8192  # log-mel frames held in memory before they go to a temporary file (4 MB)
CHUNK_FRAMES = 8192  # frames per chunk of the final pass


class MfccAccumulator:
    def __init__(self, *, sample_rate: int, n_fft: int, spill_dir: Path | None = None):
        """`spill_dir`: where the temporary file goes (None: TMPDIR); the job passes its results folder, so
        the file is on the data disk (not a RAM-backed /tmp) and a full disk there is reported as such."""
        self.spill_dir = spill_dir
        self.mel_basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=N_MELS)
        self._held: list[np.ndarray] = []  # (frames, N_MELS) float32 log-mel blocks
        self._held_frames = 0
        self._spill: IO[bytes] | None = None
        self.max_db = -np.inf
        self.frames = 0

    def push(self, power: np.ndarray) -> None:
        """`power`: (1 + n_fft // 2, frames) power spectrogram block."""
        log_mel = 10.0 * np.log10(np.maximum(AMIN, self.mel_basis @ power))  # (N_MELS, frames)
        if log_mel.size:
            self.max_db = max(self.max_db, float(log_mel.max()))
        self.frames += log_mel.shape[1]
        self._held.append(np.ascontiguousarray(log_mel.T, dtype=np.float32))
        self._held_frames += log_mel.shape[1]
        if self._held_frames > SPILL_FRAMES:
            if self._spill is None:
                # unlinked at once: a crash or a cancel leaves nothing behind
                self._spill = tempfile.TemporaryFile(prefix=".mfcc-", dir=self.spill_dir)
            try:
                for block in self._held:
                    # the file object's write, not ndarray.tofile: a short write on a full disk then raises
                    # ENOSPC, which the job reports as insufficient_storage (tofile's has no errno: a
                    # stranger's job ended internal_error)
                    self._spill.write(block.data.cast("B"))  # the block's own bytes, no copy
            except BaseException:
                self.close()  # its space back at once, not when the failed job's frames are collected
                raise
            self._held, self._held_frames = [], 0

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    def _chunks(self):
        if self._spill is not None:
            self._spill.seek(0)
            while True:
                chunk = np.fromfile(self._spill, dtype=np.float32, count=CHUNK_FRAMES * N_MELS)
                if not chunk.size:
                    break
                yield chunk.reshape(-1, N_MELS)
        yield from self._held

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) of each coefficient over the frames."""
        floor = self.max_db - TOP_DB
        count, mean, m2 = 0, np.zeros(N_MFCC), np.zeros(N_MFCC)
        try:
            for chunk in self._chunks():
                mfcc = scipy.fft.dct(np.maximum(chunk, floor), axis=1, type=2, norm="ortho")[:, :N_MFCC]
                # Chan et al.'s pairwise update: stable where a running sum of squares would not be.
                n, c_mean = len(mfcc), mfcc.mean(axis=0, dtype=np.float64)
                c_m2 = ((mfcc - c_mean) ** 2).sum(axis=0, dtype=np.float64)
                delta = c_mean - mean
                mean = mean + delta * n / (count + n)
                m2 = m2 + c_m2 + delta**2 * count * n / (count + n)
                count += n
        finally:
            self.close()
        return mean, np.sqrt(m2 / max(count, 1))
