"""STFT magnitude frames of a signal that arrives in blocks.

`FrameStream` emits exactly the frames `chroma.stft_mag` computes on the whole signal
(centred frames, zero padding of n_fft/2 at both ends, periodic Hann window, float32), so
analysing a file block by block gives the same features as analysing it in one piece, with
memory bounded by the block length.
"""

from __future__ import annotations

import numpy as np

FFT_BATCH_BYTES = 1 << 24  # ~16 MB of float32 frames per FFT call


def hann(n_fft: int, win_length: int | None = None) -> np.ndarray:
    """Periodic Hann window of `win_length` centred in `n_fft` samples (float32)."""
    import scipy.signal

    win_length = win_length or n_fft
    window = np.zeros(n_fft, dtype=np.float32)
    lo = (n_fft - win_length) // 2
    window[lo : lo + win_length] = scipy.signal.get_window("hann", win_length, fftbins=True)
    return window


def frames_magnitude(frames: np.ndarray, window: np.ndarray) -> np.ndarray:
    """|rfft| of (k, n_fft) frames -> (n_fft // 2 + 1, k) float32, in batches of FFT_BATCH_BYTES."""
    import scipy.fft

    n_fft = frames.shape[1]
    out = np.empty((n_fft // 2 + 1, len(frames)), dtype=np.float32)
    batch = max(1, FFT_BATCH_BYTES // (4 * n_fft))
    for a in range(0, len(frames), batch):
        out[:, a : a + batch] = np.abs(scipy.fft.rfft(frames[a : a + batch] * window, axis=1)).T
    return out


class FrameStream:
    """Push blocks of samples, get the magnitude frames that became complete.

    Frame t covers samples [t * hop - n_fft / 2, t * hop + n_fft / 2) of the signal; a signal
    of L samples gives L // hop + 1 frames in all (as `stft_mag`).
    """

    def __init__(self, n_fft: int, hop: int, *, win_length: int | None = None):
        self.n_fft, self.hop = n_fft, hop
        self.window = hann(n_fft, win_length)
        self._buf = np.zeros(n_fft // 2, dtype=np.float32)  # the left zero padding
        self.n_frames = 0  # frames emitted so far

    def push(self, block: np.ndarray) -> np.ndarray:
        """(n_fft // 2 + 1, k) frames completed by `block` (k may be 0)."""
        self._buf = np.concatenate([self._buf, np.asarray(block, dtype=np.float32)])
        return self._emit()

    def finish(self) -> np.ndarray:
        """The last frames, reaching into the right zero padding."""
        self._buf = np.concatenate([self._buf, np.zeros(self.n_fft // 2, dtype=np.float32)])
        out = self._emit()
        self._buf = self._buf[:0]
        return out

    def _emit(self) -> np.ndarray:
        n = len(self._buf)
        k = (n - self.n_fft) // self.hop + 1 if n >= self.n_fft else 0
        if k <= 0:
            return np.zeros((self.n_fft // 2 + 1, 0), dtype=np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(self._buf, self.n_fft)[:: self.hop][:k]
        out = frames_magnitude(frames, self.window)
        self._buf = self._buf[k * self.hop :]
        self.n_frames += k
        return out
