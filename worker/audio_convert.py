"""Conversions of decoded samples: integer PCM to float32, channels to mono, one rate to another (split from
worker/audio_io.py, which decodes and validates; it re-exports them)."""

from __future__ import annotations

import numpy as np


def as_float32(a: np.ndarray) -> np.ndarray:
    """Decoded samples as float32 in [-1, 1): integer PCM is scaled as libsndfile scales it (16-bit by
    1/32768), so a file decoded by FFmpeg gives the samples libsndfile would; unsigned PCM (8-bit) is
    centred first."""
    if np.issubdtype(a.dtype, np.unsignedinteger):
        half = float(np.iinfo(a.dtype.type).max // 2 + 1)
        return ((a.astype(np.float32) - half) / half).astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float32) / float(-np.iinfo(a.dtype.type).min)
    return a.astype(np.float32, copy=False)


# A channel in inverted polarity cancels in a plain average: two of the pingus game's tracker tunes (Debian's
# pingus-data; an Impulse Tracker "surround" voice is the left channel negated) kept 66 dB less power in their
# average than in their channels, and every analysis reported "silence". The same befalls a recording with one
# channel wired backwards. Where the average keeps less than this share of the channels' mean power, each channel
# is turned to the polarity of the loudest first. Ordinary stereo keeps 0.5 (unrelated channels) to 1 (the same
# in both); eight unrelated channels 0.125: none of them is touched.
CANCELLED_POWER_SHARE = 0.05


def to_mono(y: np.ndarray) -> np.ndarray:
    """(channels, samples) -> (samples,) float32 by averaging, a channel in inverted polarity turned first where
    the plain average cancels (CANCELLED_POWER_SHARE); 1-D input is returned as is. Applied to each block of a
    stream, it decides per block."""
    if y.ndim == 1:
        return y
    mono = y.mean(axis=0, dtype=np.float32)
    if y.shape[0] < 2:
        return mono
    power = np.array([np.dot(c, c) for c in y], dtype=np.float64)  # per channel, no float64 copy of the block
    if power.sum() == 0.0 or float(np.dot(mono, mono)) >= CANCELLED_POWER_SHARE * power.mean():
        return mono
    loudest = y[int(np.argmax(power))]
    signs = np.array([1.0 if np.dot(c, loudest) >= 0.0 else -1.0 for c in y], dtype=np.float32)
    return (signs @ y) / np.float32(y.shape[0])


def resample(y: np.ndarray, *, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr, 'HQ') along the last axis."""
    if orig_sr == target_sr:
        return y
    import soxr

    if y.ndim == 1:
        return soxr.resample(y, orig_sr, target_sr, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(soxr.resample(y.T, orig_sr, target_sr, quality="HQ").T, dtype=np.float32)
