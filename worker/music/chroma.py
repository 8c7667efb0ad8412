"""Harmonic front end: tuning estimate, tuning-corrected semitone spectrogram, HPSS, chroma.

One long-window STFT feeds the key, the chords and the PNG. Partials are mapped onto
semitone bins centred on the *measured* tuning (not on A440), so a band tuned 30 cents
flat still lands every note in its own bin. Harmonic/percussive separation runs on the
84-bin semitone spectrogram rather than the 4097-bin STFT: the same median filters on a
50x smaller matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage as ndi
import scipy.sparse as sps

from ..median import median_along

SR = 22050  # Hz, analysis rate of the harmonic and rhythm stages
N_FFT = 8192  # samples (372 ms): 2.7 Hz bins resolve semitones down to ~C2
HOP = 1024  # samples (46 ms)
MIDI_LO, MIDI_HI = 24, 108  # C1 .. B7, the semitone bins of the spectrogram
BASS_RANGE = (28, 52)  # MIDI E1..E3: the bass chroma that anchors chord roots
TREBLE_RANGE = (48, 96)  # MIDI C3..C7
TUNING_FMIN, TUNING_FMAX = 80.0, 2000.0  # Hz, partials used to measure the tuning
HARM_KERNEL = 11  # frames (~0.5 s) of the time median (harmonic part)
PERC_KERNEL = 9  # semitones of the frequency median (percussive part)
HPSS_CHUNK_FRAMES = 8192  # frames (6 min) per HPSS pass
LOG_GAIN = 100.0  # log(1 + gain * x) compression of normalised magnitudes
EPS = 1e-10


@dataclass
class HarmonicFeatures:
    """Frame-level harmonic features at hop `HOP / SR` seconds.

    semitone: (84, T) log-compressed harmonic semitone spectrogram, MIDI MIDI_LO..MIDI_HI-1
    chroma: (12, T) treble chroma (pitch class 0 = C), bass: (12, T) bass chroma
    harmonic_ratio: share of the spectrogram energy that HPSS calls harmonic (0..1)
    """

    semitone: np.ndarray
    chroma: np.ndarray
    bass: np.ndarray
    times: np.ndarray
    tuning_cents: float
    harmonic_ratio: float
    energy: np.ndarray  # (T,) frame energy of the harmonic part (for "N" chords)


def stft_mag(y: np.ndarray, *, n_fft: int = N_FFT, hop: int = HOP, win_length: int | None = None) -> np.ndarray:
    """|STFT| (n_fft//2+1, T) in float32, periodic Hann window, centred frames (frame t at t*hop).

    A numpy/scipy STFT rather than librosa's: same frames (zero padding), float32 FFTs, and
    no JIT compilation on the first call of a fresh worker process. Equal to the frames a
    `frames.FrameStream` emits for the same signal pushed in blocks.
    """
    from .frames import FrameStream

    stream = FrameStream(n_fft, hop, win_length=win_length)
    return np.concatenate([stream.push(y), stream.finish()], axis=1)


class TuningScan:
    """Tuning from spectral peaks gathered block by block (see `estimate_tuning`).

    Circular mean of the fractional-semitone position of spectral peaks (parabolic
    interpolation), weighted by peak magnitude, so strong sustained partials decide. The
    weighted sum of unit phasors adds up across blocks, so a scan in blocks equals one pass.
    """

    def __init__(self, *, sr: int = SR, n_fft: int = N_FFT):
        self.sr, self.n_fft = sr, n_fft
        self.phasor = 0j
        self.n_peaks = 0

    def add(self, mag: np.ndarray) -> None:
        lo = int(TUNING_FMIN * self.n_fft / self.sr)
        hi = int(TUNING_FMAX * self.n_fft / self.sr)
        m = mag[lo - 1 : hi + 1]
        if m.shape[1] == 0:
            return
        c = m[1:-1]
        is_peak = (c > m[:-2]) & (c >= m[2:]) & (c > 0.05 * (c.max(axis=0, keepdims=True) + EPS))
        k, t = np.nonzero(is_peak)
        a, b, g = m[k, t], m[k + 1, t], m[k + 2, t]
        denom = a - 2 * b + g
        delta = np.where(np.abs(denom) > EPS, 0.5 * (a - g) / np.where(denom == 0, 1, denom), 0.0)
        freq = (k + lo + np.clip(delta, -0.5, 0.5)) * self.sr / self.n_fft
        semis = 12 * np.log2(freq / 440.0)
        self.phasor += complex(np.sum(b * np.exp(2j * np.pi * (semis - np.round(semis)))))
        self.n_peaks += len(k)

    @property
    def cents(self) -> float:
        """Deviation of the reference pitch from A440 in cents (-50..50); 0 with fewer than 8 peaks."""
        if self.n_peaks < 8:
            return 0.0
        return float(100.0 * np.angle(self.phasor) / (2 * np.pi))


def estimate_tuning(mag: np.ndarray, *, sr: int = SR, n_fft: int = N_FFT) -> float:
    """Deviation of the reference pitch from A440 in cents (-50..50) from a (F, T) magnitude STFT."""
    scan = TuningScan(sr=sr, n_fft=n_fft)
    scan.add(mag)
    return scan.cents


def semitone_filterbank(tuning_cents: float, *, sr: int = SR, n_fft: int = N_FFT) -> sps.csr_matrix:
    """(84, n_fft//2+1) raised-cosine weights over +-75 cents around each tuned semitone."""
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    with np.errstate(divide="ignore"):
        midi = 69 + 12 * np.log2(np.maximum(freqs, EPS) / 440.0) - tuning_cents / 100.0
    rows, cols, vals = [], [], []
    for i, p in enumerate(range(MIDI_LO, MIDI_HI)):
        d = np.abs(midi - p)
        idx = np.nonzero(d < 0.75)[0]
        if len(idx) == 0:  # low notes narrower than a bin: take the nearest bin
            idx = np.array([int(np.argmin(d))])
        w = np.cos(np.minimum(d[idx] / 0.75, 1.0) * np.pi / 2) ** 2
        rows += [i] * len(idx)
        cols += list(idx)
        vals += list(w)
    return sps.csr_matrix((vals, (rows, cols)), shape=(MIDI_HI - MIDI_LO, len(freqs)), dtype=np.float32)


def hpss_masks(spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft (Wiener, power 2) harmonic and percussive masks of a (bins, T) magnitude."""
    h = median_along(spec, size=HARM_KERNEL, axis=1, mode="nearest")
    p = median_along(spec, size=PERC_KERNEL, axis=0, mode="nearest")
    h2, p2 = h * h, p * p
    tot = h2 + p2 + EPS
    return h2 / tot, p2 / tot


def _harmonic_part(semi: np.ndarray) -> np.ndarray:
    """semi * its harmonic mask, in time chunks: the medians reach HARM_KERNEL // 2 frames either
    side, so chunks with that margin give the same result as one pass with a fraction of the
    temporaries (a one-hour file would otherwise hold ~8 copies of its spectrogram)."""
    margin = HARM_KERNEL // 2 + 1
    out = np.empty_like(semi)
    n = semi.shape[1]
    for a in range(0, n, HPSS_CHUNK_FRAMES):
        b = min(n, a + HPSS_CHUNK_FRAMES)
        lo, hi = max(0, a - margin), min(n, b + margin)
        hmask, _ = hpss_masks(semi[:, lo:hi])
        out[:, a:b] = semi[:, a:b] * hmask[:, a - lo : b - lo]
    return out


def fold(semitone: np.ndarray, lo: int, hi: int, *, weights: np.ndarray | None = None) -> np.ndarray:
    """Sum semitone rows with MIDI in [lo, hi) into 12 pitch classes -> (12, T)."""
    out = np.zeros((12, semitone.shape[1]), dtype=np.float32)
    for p in range(max(lo, MIDI_LO), min(hi, MIDI_HI)):
        w = 1.0 if weights is None else weights[p - MIDI_LO]
        out[p % 12] += w * semitone[p - MIDI_LO]
    return out


def harmonic_features(y: np.ndarray, *, sr: int = SR) -> HarmonicFeatures:
    """Tuning-corrected chroma of the harmonic part of `y` (mono float32 (n,) at `sr`)."""
    mag = stft_mag(y)
    tuning = estimate_tuning(mag, sr=sr)
    fb = semitone_filterbank(tuning, sr=sr)
    return harmonic_from_semitone(np.asarray(fb @ mag, dtype=np.float32), tuning, sr=sr)


def harmonic_from_semitone(semi: np.ndarray, tuning: float, *, sr: int = SR) -> HarmonicFeatures:
    """HarmonicFeatures from the linear (84, T) tuned semitone spectrogram (filterbank @ |STFT|);
    `semi` is normalised in place (it may be an hour of frames: no copy)."""
    peak = float(semi.max()) if semi.size else 0.0
    semi /= peak + EPS
    harm = _harmonic_part(semi)
    total = float(np.einsum("ij,ij->", semi, semi)) + EPS  # no squared temporaries
    harmonic_ratio = float(np.einsum("ij,ij->", harm, harm) / total)
    times = np.arange(semi.shape[1]) * HOP / sr
    del semi
    # spectral whitening across pitch: subtract a local (1 octave) mean so broadband
    # residue of drums and noise does not lift every pitch class equally (in place: long files)
    logh = np.log1p(np.multiply(harm, LOG_GAIN, out=harm), out=harm)
    energy = logh.sum(axis=0)
    white = ndi.uniform_filter1d(logh, size=13, axis=0, mode="nearest")
    np.subtract(logh, white, out=white)
    np.maximum(white, 0.0, out=white)
    del logh, harm
    chroma = fold(white, *TREBLE_RANGE)
    bass = fold(white, *BASS_RANGE)
    return HarmonicFeatures(white, chroma, bass, times, tuning, harmonic_ratio, energy)


def beat_sync(feat: np.ndarray, frame_times: np.ndarray, bounds: np.ndarray, *, agg=np.mean) -> np.ndarray:
    """Aggregate (d, T) frames into segments [bounds[i], bounds[i+1]) -> (d, len(bounds)-1)."""
    idx = np.searchsorted(frame_times, bounds)
    out = np.zeros((feat.shape[0], max(len(bounds) - 1, 0)), dtype=np.float32)
    for i in range(len(bounds) - 1):
        a, b = idx[i], max(idx[i + 1], idx[i] + 1)
        seg = feat[:, a:b]
        if seg.shape[1]:
            out[:, i] = agg(seg, axis=1)
    return out
