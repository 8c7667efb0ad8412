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
RISE_WINDOW_SECONDS = 0.6  # how long after the start the first note's peak is looked for


@dataclass(frozen=True)
class Attack:
    """The first note: when it starts (s) and how long it takes to reach within 6 dB of its peak (s)."""

    start: float
    rise_seconds: float


@dataclass
class OnsetFeatures:
    logmel: np.ndarray  # (N_MELS, T) float32 log(1 + 1000 * mel / loudest), frames at ONSET_HOP / SR s
    full: np.ndarray  # (T,) detrended, unit-std full-band log-mel flux
    low: np.ndarray  # (T,) the same for the low bands
    pitch: np.ndarray  # (T,) the same for the semitone spectrogram
    attack: Attack | None


class OnsetScan:
    """Push 22.05 kHz blocks, then `finish()` for the OnsetFeatures of the whole signal."""

    def __init__(self, *, tuning_cents: float):
        import librosa

        self.frames = FrameStream(ONSET_N_FFT, ONSET_HOP)
        self.mel_fb = librosa.filters.mel(sr=SR, n_fft=ONSET_N_FFT, n_mels=N_MELS, fmax=MEL_FMAX).astype(np.float32)
        fb = semitone_filterbank(tuning_cents, sr=SR, n_fft=ONSET_N_FFT)
        self.semi_fb = fb[PITCH_FLUX_MIDI_LO - MIDI_LO:]
        self._mel: list[np.ndarray] = []
        self._semi: list[np.ndarray] = []
        self._power: list[np.ndarray] = []

    def push(self, block: np.ndarray) -> None:
        self._add(self.frames.push(block))

    def _add(self, mag: np.ndarray) -> None:
        if mag.shape[1] == 0:
            return
        self._power.append(np.einsum("ft,ft->t", mag, mag))  # no (F, T) temporary
        self._mel.append(np.log(self.mel_fb @ (mag * mag) + LOG_FLOOR).astype(np.float16))
        self._semi.append(np.log(np.asarray(self.semi_fb @ mag) + LOG_FLOOR).astype(np.float16))

    def finish(self) -> OnsetFeatures:
        self._add(self.frames.finish())
        logmel = _compress(self._mel)
        flux = _flux(logmel)
        low = _detrend(flux[:LOW_MEL_BANDS].mean(axis=0))
        full = _detrend(flux.mean(axis=0))
        pitch = _detrend(_flux(_compress(self._semi)).mean(axis=0))
        attack = first_attack_from_power(np.concatenate(self._power).astype(np.float64))
        self._mel, self._semi, self._power = [], [], []
        return OnsetFeatures(logmel, full, low, pitch, attack)


def _compress(parts: list[np.ndarray]) -> np.ndarray:
    """log(1 + COMPRESSION * x / max x) of float16 log-power blocks, as float32."""
    logx = np.concatenate(parts, axis=1).astype(np.float32)
    top = float(logx.max())
    return np.log1p(COMPRESSION * np.exp(logx - top)).astype(np.float32)


def _flux(x: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, np.diff(x, axis=1, prepend=x[:, :1]))


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


def onset_features(y: np.ndarray, *, tuning_cents: float = 0.0) -> OnsetFeatures:
    """OnsetFeatures of a whole mono 22.05 kHz signal (one block)."""
    scan = OnsetScan(tuning_cents=tuning_cents)
    scan.push(y)
    return scan.finish()
