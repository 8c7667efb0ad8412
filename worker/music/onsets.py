"""Onset features gathered block by block: log-mel frames, band and pitch flux, the first attack.

One 2048-sample STFT (hop 256 at 22.05 kHz, 11.6 ms) per block feeds
- a 48-band mel power spectrogram (the beat network's input and the band flux),
- a tuned semitone spectrogram from C3 up (its flux catches soft-attack note changes),
- the frame power (the first note's attack time).
The spectrograms are kept as float16 natural-log power (2 bytes per value: ~67 MB for an hour)
and compressed against the track's loudest frame only at the end, as the one-shot analysis did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import scipy.ndimage as ndi

from .chroma import MIDI_LO, SR, semitone_filterbank
from .frames import FrameStream

ONSET_N_FFT = 2048  # samples (93 ms)
ONSET_HOP = 256  # samples (11.6 ms), the beat grid resolution
FPS = SR / ONSET_HOP  # onset frames per second
N_MELS = 48
MEL_FMAX = 8000.0  # Hz
LOW_MEL_BANDS = 14  # mel bands (~0-600 Hz) of the "low" onset band
PITCH_FLUX_MIDI_LO = 48  # C3: lower semitones are not resolved by the 2048-sample FFT
LOG_FLOOR = 1e-20  # power floor before the log (float16 keeps ln values to ~0.03)
COMPRESSION = 1000.0  # log(1 + COMPRESSION * power / loudest) compression of both spectrograms
DETREND_SECONDS = 0.5  # moving-average window subtracted from each flux (keeps slow swells out)
FIRST_ONSET_DB = -40.0  # dB below the loudest frame at which the first note counts as started
FLUX_CHUNK_FRAMES = 16384  # onset frames (3 min) compressed per step
RISE_WINDOW_SECONDS = 0.6  # how long after the start the first note's peak is looked for
SILENCE_RMS = 1e-4  # below this RMS the input (pipeline.py), or a frame of it (OnsetFeatures.silent), is silence


@dataclass(frozen=True)
class Attack:
    """The first note: when it starts (s) and how long it takes to reach within 6 dB of its peak (s)."""

    start: float
    rise_seconds: float


@dataclass
class OnsetFeatures:
    logmel: np.ndarray  # (N_MELS, T) float16 log(1 + 1000 * mel / loudest), frames at ONSET_HOP / SR s
    full: np.ndarray  # (T,) detrended, unit-std full-band log-mel flux
    low: np.ndarray  # (T,) the same for the low bands
    pitch: np.ndarray  # (T,) the same for the semitone spectrogram
    attack: Attack | None
    top_hz: float | None = None  # the highest frequency the source holds (half its rate) where under MEL_FMAX
    silent: np.ndarray | None = None  # (T,) bool: the frame's RMS (under the window) is below SILENCE_RMS


class OnsetScan:
    """Push 22.05 kHz blocks, then `finish()` for the OnsetFeatures of the whole signal."""

    def __init__(self, *, tuning_cents: float, n_samples: int, source_sr: float | None = None):
        import librosa

        # a source below 2 * MEL_FMAX (8 and 11.025 kHz files) leaves the top mel bands empty: the beat network is told
        self.top_hz = source_sr / 2.0 if source_sr is not None and source_sr / 2.0 < MEL_FMAX else None

        self.frames = FrameStream(ONSET_N_FFT, ONSET_HOP)
        self.mel_fb = librosa.filters.mel(sr=SR, n_fft=ONSET_N_FFT, n_mels=N_MELS, fmax=MEL_FMAX).astype(np.float32)
        fb = semitone_filterbank(tuning_cents, sr=SR, n_fft=ONSET_N_FFT)
        self.semi_fb = fb[PITCH_FLUX_MIDI_LO - MIDI_LO:]
        # the frame count is known from the sample count: fill preallocated arrays, never concatenate
        n_frames = n_samples // ONSET_HOP + 1
        self._mel = np.zeros((N_MELS, n_frames), dtype=np.float16)
        self._semi = np.zeros((self.semi_fb.shape[0], n_frames), dtype=np.float16)
        self._power = np.zeros(n_frames, dtype=np.float64)
        self._at = 0

    def push(self, block: np.ndarray) -> None:
        self._add(self.frames.push(block))

    def _add(self, mag: np.ndarray) -> None:
        a, b = self._at, self._at + mag.shape[1]
        if b == a:
            return
        self._power[a:b] = np.einsum("ft,ft->t", mag, mag)  # no (F, T) temporary
        self._mel[:, a:b] = np.log(self.mel_fb @ (mag * mag) + LOG_FLOOR)
        self._semi[:, a:b] = np.log(np.asarray(self.semi_fb @ mag) + LOG_FLOOR)
        self._at = b

    def finish(self) -> OnsetFeatures:
        self._add(self.frames.finish())
        n = self._at
        logmel, mel_flux = _compressed_flux(self._mel[:, :n], keep=True)
        _, semi_flux = _compressed_flux(self._semi[:, :n], keep=False)
        attack = first_attack_from_power(self._power[:n])
        # Parseval: the one-sided power sum is about n_fft / 2 times the windowed frame's energy
        window_energy = float(np.sum(self.frames.window.astype(np.float64) ** 2))
        silent = 2.0 * self._power[:n] / (ONSET_N_FFT * window_energy) < SILENCE_RMS**2
        self._mel = self._semi = self._power = None  # type: ignore[assignment]  # freed: finish() is the last call
        full, low, pitch = _detrend(mel_flux[0]), _detrend(mel_flux[1]), _detrend(semi_flux[0])
        return OnsetFeatures(cast(np.ndarray, logmel), full, low, pitch, attack,  # keep=True: an array
                             self.top_hz, silent)


def _compressed_flux(logx: np.ndarray, *, keep: bool) -> tuple[np.ndarray | None, np.ndarray]:
    """log(1 + COMPRESSION * x / max x) of (bands, T) float16 log power (returned as float16 when
    `keep`) and its half-wave rectified flux averaged over all bands and over the first
    LOW_MEL_BANDS: (2, T). Worked in time chunks so an hour of frames never exists as float32 temporaries."""
    top = float(logx.max()) if logx.size else 0.0
    n = logx.shape[1]
    kept = np.empty(logx.shape, dtype=np.float16) if keep else None
    flux = np.empty((2, n), dtype=np.float32)
    prev = None
    for a in range(0, n, FLUX_CHUNK_FRAMES):
        comp = np.log1p(COMPRESSION * np.exp(logx[:, a : a + FLUX_CHUNK_FRAMES].astype(np.float32) - top))
        if kept is not None:
            kept[:, a : a + FLUX_CHUNK_FRAMES] = comp
        d = np.diff(comp, axis=1, prepend=np.zeros_like(comp[:, :1]) if prev is None else prev)  # silence before
        np.maximum(d, 0.0, out=d)
        flux[0, a : a + comp.shape[1]] = d.mean(axis=0)
        flux[1, a : a + comp.shape[1]] = d[:LOW_MEL_BANDS].mean(axis=0)
        prev = comp[:, -1:]
    return kept, flux


def _detrend(env: np.ndarray) -> np.ndarray:
    local = ndi.uniform_filter1d(env, size=int(DETREND_SECONDS * FPS), mode="nearest")
    out = np.maximum(env - local, 0.0)
    s = out.std()
    return (out / s).astype(np.float32) if s > 0 else out.astype(np.float32)


def first_attack_from_power(power: np.ndarray) -> Attack | None:
    """The first note's start and rise time from the (T,) frame power at ONSET_HOP."""
    if not np.any(power > 0):
        return None
    db = 10.0 * np.log10(power / power.max() + 1e-12)
    start = int(np.argmax(db > FIRST_ONSET_DB))
    seg = db[start : start + int(RISE_WINDOW_SECONDS * FPS)]
    rise = int(np.argmax(seg >= seg.max() - 6.0))
    return Attack(start / FPS, rise / FPS)


def first_attack(mag: np.ndarray) -> Attack | None:
    """The first note's start and rise time from a (F, T) magnitude STFT at ONSET_HOP."""
    return first_attack_from_power(np.einsum("ft,ft->t", mag, mag).astype(np.float64))


def onset_features(y: np.ndarray, *, tuning_cents: float = 0.0, source_sr: float | None = None) -> OnsetFeatures:
    """OnsetFeatures of a whole mono 22.05 kHz signal (one block), resampled from `source_sr` Hz if given."""
    scan = OnsetScan(tuning_cents=tuning_cents, n_samples=len(y), source_sr=source_sr)
    scan.push(y)
    return scan.finish()
