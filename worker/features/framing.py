"""Centered STFT frames over a stream of sample blocks, the same frames as framing the whole signal.

Frame k covers samples [k * hop - n_fft / 2, k * hop + n_fft / 2) of the signal zero-padded by
n_fft / 2 at both ends (librosa's `center=True` with constant padding). Between blocks only the
samples not yet covered by a complete frame are kept, so memory follows the block, not the file.
"""

from __future__ import annotations

import numpy as np


class CenteredFramer:
    """Push mono blocks, get (frames, frame_length) arrays of every frame they complete."""

    def __init__(self, *, frame_length: int, hop_length: int, min_length: int = 0):
        self.frame_length = frame_length
        self.hop_length = hop_length
        self.min_length = min_length  # shorter signals are zero-padded at the end to this many samples
        self._pending = np.zeros(frame_length // 2, dtype=np.float32)  # the leading pad
        self.samples = 0  # signal samples pushed so far

    def push(self, block: np.ndarray) -> np.ndarray:
        self.samples += len(block)
        self._pending = np.concatenate([self._pending, np.asarray(block, dtype=np.float32)])
        return self._take()

    def finish(self) -> np.ndarray:
        """The frames that need the trailing pad (and the short-signal pad)."""
        short = max(0, self.min_length - self.samples)
        self._pending = np.concatenate([self._pending, np.zeros(short + self.frame_length // 2, np.float32)])
        return self._take()

    def _take(self) -> np.ndarray:
        n = len(self._pending)
        if n < self.frame_length:
            return np.zeros((0, self.frame_length), dtype=np.float32)
        count = 1 + (n - self.frame_length) // self.hop_length
        frames = np.lib.stride_tricks.sliding_window_view(self._pending, self.frame_length)[::self.hop_length][:count]
        frames = frames.copy()  # the view would pin the whole pending buffer
        self._pending = self._pending[count * self.hop_length:]
        return frames
