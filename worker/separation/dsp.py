"""Separation by signal processing alone: no weights, labelled "dsp" in results.

Both methods build soft masks that sum to one in every time-frequency bin and apply them to the mixture's
STFT, so the stems add back up to the mixture (up to the inverse STFT's rounding). Masks come from the
channel-averaged magnitude and are applied to every channel alike, which keeps the stereo image.

- `HPSS`: harmonic/percussive by median filtering across time and frequency (Fitzgerald 2010;
  `librosa.decompose.hpss`).
- `RepetSim`: vocals/accompaniment by similarity filtering, REPET-SIM (Rafii & Pardo 2012): the repeating
  accompaniment of each frame is estimated as the median of its most similar frames
  (`librosa.decompose.nn_filter`); what does not repeat is taken as the voice.

Callables take `(B, C, n)` float32 and return `(B, S, C, n)`. The runner feeds them windows of `segment`
seconds with cross-fades, which bounds memory (REPET's similarity matrix grows with the square of the frames).

The STFT is sized in seconds above 44.1 kHz: 2048 points and a hop of 512 up to 48 kHz (~46 ms and ~11.6 ms at
44.1 kHz; lower rates keep them, as before), times the power of two nearest the rate's ratio to 44.1 kHz above
(4096/1024 at 88.2 and 96 kHz, 8192/2048 at 176.4 and 192 kHz). Frames per second, REPET's 2 s spacing in frames
and HPSS's 31-frame / 31-bin kernels (~0.36 s, ~0.67 kHz) are then those of 44.1-48 kHz at every higher rate,
and a second of audio costs in proportion to the rate. With 2048/512 at every rate, a 96 kHz file had 2.2 times
the frames of a 44.1 kHz one for the same length, REPET's similarity matrix 4.7 times the cells and librosa's
band around its diagonal 4.7 times the entries: 1.2 s per second of audio at 96 kHz against 0.29 at 44.1 kHz
for a stranger. (Below 44.1 kHz, sizing in seconds would give more frames per second than now, and so cost
more per second than before: 22.05 kHz keeps 2048/512.)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .catalog import DSP_STEMS

N_FFT = 2048  # samples at REFERENCE_RATE (~46 ms) and below; scaled up with the rate by stft_sizes
HOP = 512  # samples at REFERENCE_RATE (~11.6 ms)
REFERENCE_RATE = 44100  # Hz
HPSS_KERNEL = 31  # frames / bins of the median filters (librosa's default)
REPET_MIN_SECONDS = 2.0  # similar frames must lie at least this far apart (skips the frame's own note)
REPET_VOICE_MARGIN = 2.0  # > 1 makes the voice mask conservative: uncertain energy stays in the accompaniment
MASK_POWER = 2.0  # Wiener-like soft masks


Report = Callable[[float], None] | None  # fraction of the window done


def stft_sizes(sr: int) -> tuple[int, int]:
    """`(n_fft, hop)` at `sr` Hz: N_FFT / HOP times the power of two nearest `sr / REFERENCE_RATE`, at least 1."""
    scale = 2 ** max(0, round(math.log2(max(sr, 1) / REFERENCE_RATE)))
    return N_FFT * scale, HOP * scale


def _stft(x: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    n_fft, hop = stft_sizes(sr)
    return librosa.stft(x, n_fft=n_fft, hop_length=hop)


def _istft(spec: np.ndarray, length: int, sr: int) -> np.ndarray:
    import librosa

    n_fft, hop = stft_sizes(sr)
    return librosa.istft(spec, hop_length=hop, n_fft=n_fft, length=length).astype(np.float32)


def _apply_masks(x: np.ndarray, sr: int, spec: np.ndarray, masks: list[np.ndarray], report: Report = None,
                 done: float = 0.5) -> np.ndarray:
    """x (B, C, n), spec (B, C, F, T), masks of (B, F, T) -> (B, S, C, n); report() from `done` to 1."""
    stems = []
    for i, m in enumerate(masks):
        stems.append(_istft(spec * m[:, None], x.shape[-1], sr))
        _report(report, done + (1.0 - done) * (i + 1) / len(masks))
    return np.stack(stems, axis=1)


def _report(report: Report, fraction: float) -> None:
    if report is not None:
        report(fraction)


def recurrence(m: np.ndarray, width: int) -> object:
    """`librosa.segment.recurrence_matrix(m, width=width, metric="cosine", sparse=True)`, the same matrix (the same
    k nearest frames, the same pruning of each row, kept in column order as librosa's argsort of equal scores does)
    built from sklearn's k-nearest-neighbour graph directly: librosa clears the band of `width` diagonals item by
    item in a LIL matrix, 2.3 s of a 30 s window's 7 s at 44.1 kHz (21 s of 33 at 96 kHz with a fixed STFT)."""
    import scipy.sparse
    import sklearn.neighbors

    x = m.T  # (frames, bins)
    t = x.shape[0]
    k = int(2 * np.ceil(np.sqrt(t - 2 * width + 1)))
    knn = sklearn.neighbors.NearestNeighbors(n_neighbors=min(t - 1, k + 2 * width), metric="cosine")
    graph = knn.fit(x).kneighbors_graph(mode="connectivity").tocsr()
    graph.sum_duplicates()
    graph.sort_indices()
    rows, cols = [], []
    for i in range(t):
        lo, hi = graph.indptr[i], graph.indptr[i + 1]
        c = graph.indices[lo:hi]
        c = c[(np.abs(c - i) >= width) & (graph.data[lo:hi] != 0)]
        keep = c[np.argsort(np.ones((1, c.size)))][0][:k] if c.size else c  # librosa's tie order, exactly
        rows.append(np.full(keep.size, i))
        cols.append(keep)
    r, c = np.concatenate(rows), np.concatenate(cols)
    return scipy.sparse.csr_matrix((np.ones(r.size, bool), (r, c)), shape=(t, t)).T


class HPSS:
    """Harmonic / percussive split (`hpss`)."""

    name = "hpss"
    sources = list(DSP_STEMS["hpss"])
    segment = 30.0  # seconds per window
    kernel_size = HPSS_KERNEL

    def __call__(self, x: np.ndarray, sr: int, report: Report = None) -> np.ndarray:
        import librosa

        from ..median import median_along

        spec = _stft(x, sr)
        mag = np.abs(spec).mean(axis=1)  # (B, F, T)
        _report(report, 0.15)
        # what is steady across time is harmonic, what is steady across frequency is percussive
        harm = median_along(mag, size=self.kernel_size, axis=2, mode="reflect")
        _report(report, 0.3)
        perc = median_along(mag, size=self.kernel_size, axis=1, mode="reflect")
        mask_h = librosa.util.softmask(harm, perc, power=MASK_POWER, split_zeros=True)
        _report(report, 0.45)
        return _apply_masks(x, sr, spec, [mask_h, 1.0 - mask_h], report, 0.45)


class RepetSim:
    """Vocals / accompaniment by REPET-SIM similarity filtering (`repet`)."""

    name = "repet"
    sources = list(DSP_STEMS["repet"])
    segment = 30.0  # seconds per window; the similarity matrix is (frames x frames)

    def __call__(self, x: np.ndarray, sr: int, report: Report = None) -> np.ndarray:
        import librosa

        spec = _stft(x, sr)
        mag = np.abs(spec).mean(axis=1)  # (B, F, T)
        _report(report, 0.1)
        width = int(librosa.time_to_frames(REPET_MIN_SECONDS, sr=sr, hop_length=stft_sizes(sr)[1]))
        masks = []
        for i, m in enumerate(mag):
            if 1 <= width < (m.shape[-1] - 1) // 2:  # librosa's bound: at 2 * width + 2 frames it had raised
                rep = librosa.decompose.nn_filter(m, rec=recurrence(m, width), aggregate=np.median)
            else:  # too short to find repetitions: everything is accompaniment
                rep = m
            rep = np.minimum(m, rep)
            masks.append(librosa.util.softmask(m - rep, REPET_VOICE_MARGIN * rep, power=MASK_POWER,
                                               split_zeros=False))
            _report(report, 0.1 + 0.6 * (i + 1) / len(mag))
        mask_v = np.stack(masks)
        return _apply_masks(x, sr, spec, [mask_v, 1.0 - mask_v], report, 0.7)


DSP_CLASSES = {"hpss": HPSS, "repet": RepetSim}


def dsp_method(name: str):
    return DSP_CLASSES[name]()
