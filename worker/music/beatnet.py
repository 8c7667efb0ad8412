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
# Sources below 16 kHz (8 and 11.025 kHz: telephone, old games) hold nothing above half their rate. The network,
# trained on full-band renders, knows a hi-hat by its bands above 4 kHz: with them empty it missed hi-hats that
# still sound from 1.5 kHz up, and a half-time groove (kick on 1, snare on 3) read at half its tempo. Given
# `top_hz`, bands over PASSBAND of it (soxr's band edge) take the standard score of the band an octave below
# (`fill_missing_bands`), as spectral band replication rebuilds a codec's top octave. rhythm.py asks for that only
# where the plain input's tempo is slow: on 31 real tracks at 8 kHz the fill everywhere lost more than it won
# (docs/music_accuracy.md). From 16 kHz up every band is held and the input is what it was.
BAND_FILL = True
PASSBAND = 0.9


@lru_cache(maxsize=1)
def load_weights(path: Path = WEIGHTS) -> dict[str, np.ndarray] | None:
    """The weight arrays, or None when the file is missing (the DSP onset path is used then)."""
    if not path.exists():
        return None
    with np.load(path) as f:
        return {k: f[k].astype(np.float32) for k in f.files}


@lru_cache(maxsize=8)
def octave_sources(top_hz: float, n_bands: int) -> np.ndarray:
    """(n_bands,) index of the band each band's input is read from: itself where the source holds the band (its
    upper edge under PASSBAND * top_hz), else the held band whose centre is nearest half its centre. A source
    reaching MEL_FMAX (16 kHz and up) holds them all, its top bands' edge roll-off included: as trained."""
    import librosa

    from .onsets import MEL_FMAX

    if top_hz >= MEL_FMAX:
        return np.arange(n_bands)
    edges = librosa.mel_frequencies(n_mels=n_bands + 2, fmax=MEL_FMAX)
    centres, held = edges[1:-1], edges[2:] <= PASSBAND * top_hz
    src = np.arange(n_bands)
    n_held = int(held.sum())
    if n_held == 0 or n_held == n_bands:
        return src
    for b in range(n_held, n_bands):
        src[b] = int(np.argmin(np.abs(centres[:n_held] - centres[b] / 2.0)))
    src.setflags(write=False)  # shared by the cache
    return src


def fill_missing_bands(x: np.ndarray, top_hz: float | None, weights: dict[str, np.ndarray]) -> np.ndarray:
    """(bands, T) log-mel with the bands a source of highest frequency `top_hz` lacks replaced by the held band an
    octave below, at the same standard score (the training set's means and deviations); unchanged for full-band
    input. Their frame difference is then taken from the filled bands, as from heard ones."""
    if top_hz is None or not BAND_FILL:
        return x
    n = x.shape[0]
    src = octave_sources(float(top_hz), n)
    missing = np.flatnonzero(src != np.arange(n))
    if len(missing) == 0:
        return x
    mean, std = weights["in_mean"][:n], weights["in_std"][:n]
    out = x.copy()
    z = (x[src[missing]] - mean[src[missing], None]) / std[src[missing], None]
    out[missing] = np.maximum(mean[missing, None] + std[missing, None] * z, 0.0)  # compressed log-mel is >= 0
    return out


def network_input(logmel: np.ndarray, weights: dict[str, np.ndarray], *, at_start: bool = False,
                  top_hz: float | None = None) -> np.ndarray:
    """(2 * bands, T) float32: log-mel and its rectified frame difference, standardised. `at_start`: the frames
    begin the signal, before which was silence (compressed log-mel 0): a note sounding at 0 s is an onset there
    (differenced with itself, it had been none, and the first beat of music starting at 0 s was never found).
    `top_hz`: the source's highest frequency where it is under the top band's (`fill_missing_bands`)."""
    x = fill_missing_bands(logmel.astype(np.float32), top_hz, weights)
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


def activations(logmel: np.ndarray, weights: dict[str, np.ndarray] | None = None, *,
                top_hz: float | None = None) -> np.ndarray | None:
    """(3, T) beat, downbeat and compound activations in 0..1 for (bands, T) log-mel frames,
    or None without weights. `top_hz`: half the source's rate where it is under 16 kHz (OnsetFeatures.top_hz)."""
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
        z = network_input(logmel[:, max(0, lo - 1) : hi], weights, at_start=lo == 0,
                          top_hz=top_hz)[:, 1 if lo > 0 else 0 :]
        out[:, a:b] = _forward(z, weights)[:, a - lo : b - lo]
    return out
