"""Audio features from one short-time Fourier transform.

Calling librosa's feature functions one after another recomputes the STFT for
each of them; here one float32 magnitude spectrogram feeds every spectral
feature (centroid, bandwidth, roll-off, chroma, MFCC), which is what makes a
3-minute track take well under a second. Definitions follow librosa's, so the
values agree with `librosa.feature.*` on the same frames (checked in tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import scipy.fft
import scipy.signal

from worker.audio_io import resample, to_mono
from worker.errors import AudioError
from worker.features.loudness import integrated_loudness

N_FFT = 2048  # samples per analysis frame
HOP_LENGTH = 512  # samples between frames
N_MELS = 128
N_MFCC = 13
ROLLOFF_PERCENT = 0.85
# Chroma wants frequency resolution, not bandwidth: at 44.1 kHz a 2048-point frame has
# 21.5 Hz bins, wider than a semitone below ~370 Hz, so a pure A4 would leak into G#.
# Pitch classes come from a 11025 Hz copy instead (5.4 Hz bins, content up to 5.5 kHz).
CHROMA_SR = 11025  # Hz
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_EPS = 1e-10


@dataclass(frozen=True)
class FeatureAnalysis:
    """Features plus the frame-level arrays that pictures are drawn from."""

    features: dict
    magnitude: np.ndarray  # (1 + N_FFT // 2, frames) float32 STFT magnitude of the mono mix
    chroma: np.ndarray  # (12, frames) per-frame chroma, max-normalised
    sample_rate: int  # Hz
    hop_length: int  # samples


def frame_signal(y: np.ndarray, *, frame_length: int, hop_length: int) -> np.ndarray:
    """Centered, zero-padded frames as a strided view: (frames, frame_length)."""
    pad = frame_length // 2
    yp = np.pad(y, (pad, pad), mode="constant")
    n_frames = 1 + (len(yp) - frame_length) // hop_length
    return np.lib.stride_tricks.sliding_window_view(yp, frame_length)[::hop_length][:n_frames]


def stft_magnitude(y: np.ndarray, *, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """|STFT| of a mono signal, Hann window, centered frames: (1 + n_fft // 2, frames) float32."""
    frames = frame_signal(y, frame_length=n_fft, hop_length=hop_length)
    window = scipy.signal.get_window("hann", n_fft, fftbins=True).astype(np.float32)
    spec = scipy.fft.rfft(frames * window, axis=1, workers=-1)
    return np.abs(spec).T.astype(np.float32, copy=False)


def analyze_features(y: np.ndarray, sr: int) -> FeatureAnalysis:
    """Compute the feature set of `y` ((channels, samples) or (samples,)) at `sr` Hz."""
    if y.size == 0:
        raise AudioError("no samples to analyse", code="no_audio")
    channels = 1 if y.ndim == 1 else y.shape[0]
    mono = np.ascontiguousarray(to_mono(y), dtype=np.float32)
    if len(mono) < N_FFT:  # very short clips: pad so there is one full frame
        mono = np.pad(mono, (0, N_FFT - len(mono)))

    mag = stft_magnitude(mono)
    power = mag**2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT).astype(np.float32)

    # Spectral shape, librosa definitions (magnitude-weighted per frame).
    mag_sum = mag.sum(axis=0)
    weights = mag / np.maximum(mag_sum, _EPS)
    centroid = freqs @ weights
    bandwidth = np.sqrt(np.maximum(((freqs[:, None] - centroid[None, :]) ** 2 * weights).sum(axis=0), 0))
    cumulative = np.cumsum(mag, axis=0)
    rolloff_idx = np.argmax(cumulative >= ROLLOFF_PERCENT * cumulative[-1:, :], axis=0)
    rolloff = freqs[rolloff_idx]
    voiced = mag_sum > _EPS  # silent frames carry no spectral shape
    # Zero crossings per frame (librosa.feature.zero_crossing_rate definition).
    frames = frame_signal(mono, frame_length=N_FFT, hop_length=HOP_LENGTH)
    signs = np.signbit(frames)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)

    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=N_MELS)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=N_MFCC)
    chroma_sr = min(sr, CHROMA_SR)
    chroma_power = stft_magnitude(resample(mono, orig_sr=sr, target_sr=chroma_sr)) ** 2
    chroma = librosa.feature.chroma_stft(S=chroma_power, sr=chroma_sr, n_fft=N_FFT, tuning=0.0)
    chroma_energy = (librosa.filters.chroma(sr=chroma_sr, n_fft=N_FFT, tuning=0.0, norm=None)
                     @ chroma_power).sum(axis=1)
    total = float(chroma_energy.sum())
    distribution = (chroma_energy / total) if total > 0 else np.full(12, 1 / 12)

    samples = to_mono(y)
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    peak = float(np.max(np.abs(y)))

    def mean_over(a: np.ndarray) -> float:
        return float(a[voiced].mean()) if voiced.any() else 0.0

    features = {
        "rms_energy": rms,
        "rms_dbfs": _db(rms),
        "peak_dbfs": _db(peak),
        "crest_factor_db": _crest_db(peak, rms),
        "loudness_lufs": integrated_loudness(y, sr),
        "spectral_centroid_hz": mean_over(centroid),
        "spectral_bandwidth_hz": mean_over(bandwidth),
        "spectral_rolloff_hz": mean_over(rolloff),
        "zero_crossing_rate": float(zcr.mean()),
        "mfcc": {"mean": _floats(mfcc.mean(axis=1)), "std": _floats(mfcc.std(axis=1))},
        "chroma_distribution": _floats(distribution),
        "chroma_pitch_classes": list(PITCH_CLASSES),
        "dominant_pitch_class": PITCH_CLASSES[int(np.argmax(distribution))] if total > 0 else None,
        "silence_fraction": float(1.0 - voiced.mean()),
        "channels": channels,
        "frame": {"n_fft": N_FFT, "hop_length": HOP_LENGTH, "frames": int(mag.shape[1])},
    }
    return FeatureAnalysis(features, mag, chroma, sr, HOP_LENGTH)


def compute_features(y: np.ndarray, sr: int) -> dict:
    """The feature dict only (see `analyze_features`)."""
    return analyze_features(y, sr).features


def features_summary(result: dict) -> str:
    """A readable text summary of a features result."""
    f = result["audio_features"]
    dist = dict(zip(f["chroma_pitch_classes"], f["chroma_distribution"], strict=True))
    top = sorted(dist.items(), key=lambda kv: -kv[1])[:3]
    lufs = f["loudness_lufs"]
    lines = [
        f"Audio features of {result['filename']}",
        f"  duration        {result['duration_seconds']:.2f} s, {result['sample_rate']} Hz, "
        f"{result['channels']} channel(s)",
        f"  loudness        {lufs:.1f} LUFS" if lufs is not None else "  loudness        n/a (too short or silent)",
        f"  peak            {_fmt_db(f['peak_dbfs'])} dBFS, RMS {f['rms_energy']:.4f} ({_fmt_db(f['rms_dbfs'])} dBFS)",
        f"  brightness      centroid {f['spectral_centroid_hz']:.0f} Hz, bandwidth "
        f"{f['spectral_bandwidth_hz']:.0f} Hz, roll-off {f['spectral_rolloff_hz']:.0f} Hz",
        f"  noisiness       zero-crossing rate {f['zero_crossing_rate']:.4f}",
        "  pitch classes   " + ", ".join(f"{k} {v:.0%}" for k, v in top),
        "  MFCC means      " + " ".join(f"{v:.1f}" for v in f["mfcc"]["mean"]),
    ]
    return "\n".join(lines) + "\n"


def _db(x: float) -> float | None:
    return float(20 * np.log10(x)) if x > 0 else None


def _crest_db(peak: float, rms: float) -> float | None:
    """Peak-to-RMS ratio in dB (None for silence)."""
    return float(20 * np.log10(peak) - 20 * np.log10(rms)) if rms > 0 else None


def _fmt_db(x: float | None) -> str:
    return "-inf" if x is None else f"{x:.1f}"


def _floats(a: np.ndarray) -> list[float]:
    return [float(v) for v in a]
