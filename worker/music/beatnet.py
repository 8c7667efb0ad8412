"""A small temporal convolutional network for beat, downbeat and compound-metre activations.

Input: the 48-band log-mel frames of `onsets.OnsetScan` (86 frames per second) and their
half-wave rectified difference, standardised with the training set's means and deviations.
Network: a 3-frame convolution to CHANNELS channels, then residual blocks of a dilated 3-tap
convolution (dilations 1, 2, 4, ... 2^(n-1): a receptive field of about +-3 s) and a 1x1
convolution, ELU throughout, and a 1x1 head with three sigmoid outputs per frame:
beat, downbeat, and "the beat divides in three" (6/8, 12/8, shuffle).

Trained by bench/beat_train.py (fixed seed) on audio rendered by bench/pitch_testset.py, never on
the test split nor on a held-out soundfont, kit or groove style. The weights (~60 k float32
parameters, in beat_tcn.npz beside this file) are the project's, under its licence. Inference is
plain numpy, in time chunks overlapping by the receptive field, so memory stays flat on long files.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).with_name("beat_tcn.npz")
CHUNK_FRAMES = 16384  # frames (3 min) per inference pass


@lru_cache(maxsize=1)
def load_weights(path: Path = WEIGHTS) -> dict[str, np.ndarray] | None:
    """The weight arrays, or None when the file is missing (the DSP onset path is used then)."""
    if not path.exists():
        return None
    with np.load(path) as f:
        return {k: f[k].astype(np.float32) for k in f.files}


def network_input(logmel: np.ndarray, weights: dict[str, np.ndarray], *, at_start: bool = False) -> np.ndarray:
    """(2 * bands, T) float32: log-mel and its rectified frame difference, standardised. `at_start`: the frames
    begin the signal, before which was silence (compressed log-mel 0): a note sounding at 0 s is an onset there
    (differenced with itself, it had been none, and the first beat of music starting at 0 s was never found)."""
    x = logmel.astype(np.float32)
    d = np.diff(x, axis=1, prepend=np.zeros_like(x[:, :1]) if at_start else x[:, :1])
    np.maximum(d, 0.0, out=d)
    z = np.concatenate([x, d], axis=0)
    z -= weights["in_mean"][:, None]
    z /= weights["in_std"][:, None]
    return z


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, dilation: int = 1) -> np.ndarray:
    """1-D convolution, 'same' zero padding: x (C, T), w (O, C, K) with odd K -> (O, T)."""
    k = w.shape[2]
    if k == 1:
        return w[:, :, 0] @ x + b[:, None]
    pad = dilation * (k // 2)
    t = x.shape[1]
    xp = np.pad(x, ((0, 0), (pad, pad)))
    out = np.empty((w.shape[0], t), dtype=np.float32)
    out[:] = b[:, None]
    for j in range(k):
        out += w[:, :, j] @ xp[:, j * dilation : j * dilation + t]
    return out


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


def receptive_half(weights: dict[str, np.ndarray]) -> int:
    """Frames of context the output at one frame sees on each side."""
    n_blocks = int(weights["n_blocks"][0])
    return 1 + sum(2**i for i in range(n_blocks))


def _forward(z: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    h = _elu(_conv(z, weights["in_w"], weights["in_b"]))
    for i in range(int(weights["n_blocks"][0])):
        y = _elu(_conv(h, weights[f"b{i}_w1"], weights[f"b{i}_b1"], dilation=2**i))
        h = h + _elu(_conv(y, weights[f"b{i}_w2"], weights[f"b{i}_b2"]))
    logits = _conv(h, weights["out_w"], weights["out_b"])
    return 1.0 / (1.0 + np.exp(-logits))


def activations(logmel: np.ndarray, weights: dict[str, np.ndarray] | None = None) -> np.ndarray | None:
    """(3, T) beat, downbeat and compound activations in 0..1 for (bands, T) log-mel frames,
    or None without weights."""
    weights = weights if weights is not None else load_weights()
    if weights is None:
        return None
    t = logmel.shape[1]
    ctx = receptive_half(weights)
    out = np.empty((weights["out_w"].shape[0], t), dtype=np.float32)
    for a in range(0, t, CHUNK_FRAMES):
        b = min(t, a + CHUNK_FRAMES)
        lo, hi = max(0, a - ctx), min(t, b + ctx)
        # one frame more on the left so the frame difference at `lo` is the one-pass value
        z = network_input(logmel[:, max(0, lo - 1) : hi], weights, at_start=lo == 0)[:, 1 if lo > 0 else 0 :]
        out[:, a:b] = _forward(z, weights)[:, a - lo : b - lo]
    return out
