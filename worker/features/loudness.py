"""ITU-R BS.1770-4 integrated loudness, vectorised.

pyloudnorm is the reference implementation (and supplies the K-weighting
filter design); its gating loop filters in float64 and walks the blocks in
Python, ~1.2 s for a 3-minute stereo track here. This version filters each
channel once with a second-order-sections filter and gets every 400 ms block's
mean square from one cumulative sum, agreeing with pyloudnorm to 0.01 LU.
"""

from __future__ import annotations

import numpy as np
import scipy.signal
from pyloudnorm.iirfilter import IIRfilter

BLOCK_SECONDS = 0.400  # gating block length
OVERLAP = 0.75  # block overlap
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
# Channel weights G_i for L, R, C (1.0) and the surrounds Ls, Rs (1.41); stereo and mono use 1.0.
SURROUND_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)


def k_weighting_sos(sr: int) -> np.ndarray:
    """The K-weighting pre-filter (high shelf + high pass) at `sr` Hz as SOS rows (2, 6)."""
    shelf = IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sr, "high_shelf")
    highpass = IIRfilter(0.0, 0.5, 38.0, sr, "high_pass")
    rows = []
    for f in (shelf, highpass):
        b, a = np.asarray(f.b, dtype=np.float64), np.asarray(f.a, dtype=np.float64)
        rows.append(np.concatenate([b / a[0], a / a[0]]))
    return np.array(rows)


def integrated_loudness(y: np.ndarray, sr: int) -> float | None:
    """Integrated loudness of `y` ((channels, samples) or (samples,)) in LUFS.

    None when undefined: shorter than one block, or every block below the absolute gate.
    """
    data = np.atleast_2d(y)
    n = data.shape[1]
    block = int(round(BLOCK_SECONDS * sr))
    step = int(round(block * (1 - OVERLAP)))
    if n < block:
        return None
    filtered = scipy.signal.sosfilt(k_weighting_sos(sr), data.astype(np.float64, copy=False), axis=1)
    starts = np.arange(0, n - block + 1, step)
    csum = np.concatenate([np.zeros((data.shape[0], 1)), np.cumsum(filtered**2, axis=1)], axis=1)
    z = (csum[:, starts + block] - csum[:, starts]) / block  # (channels, blocks) mean squares
    weights = np.array(SURROUND_WEIGHTS[: data.shape[0]] if data.shape[0] <= 5 else [1.0] * data.shape[0])
    power = weights @ z
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10 * np.log10(power)
    above_abs = block_lufs >= ABSOLUTE_GATE_LUFS
    if not above_abs.any():
        return None
    relative_gate = -0.691 + 10 * np.log10(power[above_abs].mean()) + RELATIVE_GATE_LU
    gated = above_abs & (block_lufs > relative_gate)
    if not gated.any():
        return None
    return float(-0.691 + 10 * np.log10(power[gated].mean()))
