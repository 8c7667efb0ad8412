"""Audio features from one short-time Fourier transform, computed block by block.

Calling librosa's feature functions one after another recomputes the STFT for
each of them; here one float32 magnitude spectrogram feeds every spectral
feature (centroid, bandwidth, roll-off, chroma, MFCC), which is what makes a
3-minute track take well under a second. Definitions follow librosa's, so the
values agree with `librosa.feature.*` on the same frames (checked in tests).

The audio arrives in blocks (`FeatureAccumulator.push`) and each block's frames
are reduced at once to sums, a few numbers per frame and picture columns, so
the memory of an hour-long file is that of a 10-second block.

The spectral features (centroid, bandwidth, roll-off, zero crossings, MFCC, the
picture's spectrogram, chroma) are measured on a copy of the mono mix at one rate,
ANALYSIS_SR, made block by block by a streaming resampler: a 2048-sample frame, the
zero crossings per sample and the mel bands (0 to half the rate) had all followed
the file's rate, so the same music read a zero-crossing rate of 0.0086 at 192 kHz
against 0.0371 at 44.1 kHz. The levels, loudness, warnings and the waveform are
measured on the file's own samples (what a clipped sample is depends on them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import scipy.fft
import scipy.signal

from worker.audio_io import to_mono
from worker.audio_limits import DIGITAL_SILENCE_PEAK, check_finite
from worker.errors import AudioError
from worker.features.framing import CenteredFramer
from worker.features.loudness import ABSOLUTE_GATE_LUFS, LoudnessMeter
from worker.features.loudness import BLOCK_SECONDS as LOUDNESS_BLOCK_SECONDS
from worker.features.mfcc import MfccAccumulator
from worker.features.pooling import ColumnMaxPool

ANALYSIS_SR = 44100  # Hz: the spectral features' rate, whatever the file's (see the module doc)
N_FFT = 2048  # samples per analysis frame (46 ms at ANALYSIS_SR)
HOP_LENGTH = 512  # samples between frames
ROLLOFF_PERCENT = 0.85
# Chroma wants frequency resolution, not bandwidth: at 44.1 kHz a 2048-point frame has
# 21.5 Hz bins, wider than a semitone below ~370 Hz, so a pure A4 would leak into G#.
# Pitch classes come from a 11025 Hz copy instead (5.4 Hz bins, content up to 5.5 kHz).
CHROMA_SR = 11025  # Hz
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
PICTURE_COLUMNS = 1600  # spectrogram and chromagram columns kept for the picture
ENVELOPE_COLUMNS = 4000  # waveform envelope columns kept for the picture
ARRAY_BLOCK_SECONDS = 10.0  # `analyze_features` of an array goes through the same blocks
_EPS = 1e-10
# A sample at or below this (-120 dBFS) counts as zero: a frame of such samples is silent, and crossing zero among
# them is no crossing. A 16-bit file's smallest step is 3e-5, so its features are those of librosa's definitions; a
# resampler's ringing after a cut to digital silence (-100 dB and below) had made "sound" of its own: frames of it
# with an 11 kHz centroid, and a zero crossing every few samples (librosa's zero_crossings has such a threshold).
SILENCE_LEVEL = 1e-6
# Warnings a client wants about the recording itself (the `warnings` list of the features):
CLIP_LEVEL = 0.999  # |sample| at or above this (of full scale) counts as clipped: int16's largest is 0.99997
CLIP_SHARE = 0.001  # ... and the recording is called clipped when this share of its samples is
OVER_FULL_SCALE_DB = 1.0  # a decoded peak this far above 0 dBFS (lossy codecs overshoot by a fraction of a dB) is said
DC_LEVEL = 0.01  # |mean| of the waveform (of full scale, -40 dBFS) above which it has a DC offset


@dataclass(frozen=True)
class FeatureAnalysis:
    """Features plus the pooled frame-level arrays that pictures are drawn from."""

    features: dict
    magnitude: np.ndarray  # (1 + N_FFT // 2, <= PICTURE_COLUMNS) max-pooled STFT magnitude of the mono mix (at
    # analysis_rate)
    chroma: np.ndarray  # (12, <= PICTURE_COLUMNS) max-pooled per-frame chroma, max-normalised
    envelope: tuple[np.ndarray, np.ndarray]  # (low, high) waveform envelope, <= ENVELOPE_COLUMNS each
    sample_rate: int  # Hz: the file's
    duration_seconds: float
    hop_length: int  # samples at analysis_rate
    analysis_rate: int = ANALYSIS_SR  # Hz: the rate of the spectral features and `magnitude`


def stft_magnitude(frames: np.ndarray) -> np.ndarray:
    """|STFT| of (frames, N_FFT) samples, Hann window: (1 + N_FFT // 2, frames) float32."""
    window = scipy.signal.get_window("hann", N_FFT, fftbins=True).astype(np.float32)
    spec = scipy.fft.rfft(frames * window, axis=1, workers=-1)
    return np.abs(spec).T.astype(np.float32, copy=False)


class _Sums:
    """Running sums of the per-frame spectral measurements (means are taken over voiced frames)."""

    def __init__(self) -> None:
        self.frames = self.voiced = 0
        self.centroid = self.bandwidth = self.rolloff = self.zcr = 0.0

    def add_frames(self, *, mag: np.ndarray, frames: np.ndarray, freqs: np.ndarray) -> None:
        """Spectral shape (librosa definitions, magnitude-weighted) and zero crossings of one block."""
        mag_sum = mag.sum(axis=0)
        voiced = np.abs(frames).max(axis=1) > SILENCE_LEVEL  # silent frames carry no spectral shape
        weights = mag / np.maximum(mag_sum, _EPS)
        centroid = freqs @ weights
        spread = ((freqs[:, None] - centroid[None, :]) ** 2 * weights).sum(axis=0)
        bandwidth = np.sqrt(np.maximum(spread, 0))
        cumulative = np.cumsum(mag, axis=0)
        rolloff = freqs[np.argmax(cumulative >= ROLLOFF_PERCENT * cumulative[-1:, :], axis=0)]
        signs = frames < -SILENCE_LEVEL  # a sample near zero is on the positive side (librosa's zero_pos)
        self.zcr += float(np.mean(signs[:, 1:] != signs[:, :-1], axis=1).sum())
        self.frames += len(frames)
        self.voiced += int(voiced.sum())
        self.centroid += float(centroid[voiced].sum(dtype=np.float64))
        self.bandwidth += float(bandwidth[voiced].sum(dtype=np.float64))
        self.rolloff += float(rolloff[voiced].sum(dtype=np.float64))

    def mean(self, total: float) -> float:
        return total / self.voiced if self.voiced else 0.0


class _Chroma:
    """Pitch classes from a streaming 11025 Hz copy of the mono mix: energy sums and pooled frames."""

    def __init__(self, *, sample_rate: int, expected_frames: int | None):
        import soxr

        self.sr = min(sample_rate, CHROMA_SR)
        self.resampler = (soxr.ResampleStream(sample_rate, self.sr, 1, dtype="float32", quality="HQ")
                          if self.sr != sample_rate else None)
        self.framer = CenteredFramer(frame_length=N_FFT, hop_length=HOP_LENGTH, min_length=N_FFT)
        self.filters = librosa.filters.chroma(sr=self.sr, n_fft=N_FFT, tuning=0.0)
        self.energy_filters = librosa.filters.chroma(sr=self.sr, n_fft=N_FFT, tuning=0.0, norm=None)
        self.energy = np.zeros(12)
        hint = None if expected_frames is None else 1 + expected_frames * self.sr // sample_rate // HOP_LENGTH
        self.picture = ColumnMaxPool(width=PICTURE_COLUMNS, expected=hint)

    def push(self, mono: np.ndarray, *, last: bool = False) -> None:
        if self.resampler is not None:
            mono = self.resampler.resample_chunk(mono, last=last)
        frames = self.framer.push(mono)
        if last:
            frames = np.concatenate([frames, self.framer.finish()])
        if not len(frames):
            return
        power = stft_magnitude(frames) ** 2
        self.energy += (self.energy_filters @ power).sum(axis=1)
        self.picture.push(librosa.util.normalize(self.filters @ power, norm=np.inf, axis=-2))


class FeatureAccumulator:
    """The feature set of a stream of (channels, n) float32 blocks at `sample_rate` Hz (the spectral features of its
    mono mix resampled to ANALYSIS_SR as it streams)."""

    def __init__(self, *, sample_rate: int, channels: int, expected_frames: int | None = None,
                 spill_dir: Path | None = None):
        import soxr

        self.sr, self.channels = sample_rate, channels
        # the resampler keeps a filter's worth of state between blocks: memory independent of the length
        self.resampler = (soxr.ResampleStream(sample_rate, ANALYSIS_SR, 1, dtype="float32", quality="HQ")
                          if sample_rate != ANALYSIS_SR else None)
        analysis_frames = None if expected_frames is None else expected_frames * ANALYSIS_SR // sample_rate
        self.samples, self.sum_squares, self.peak = 0, 0.0, 0.0
        self.sum, self.clipped = 0.0, 0  # for the DC offset; samples (of every channel) at full scale
        self.over = 0  # samples (of every channel) above full scale: a float or lossy file can hold them
        self.framer = CenteredFramer(frame_length=N_FFT, hop_length=HOP_LENGTH, min_length=N_FFT)
        self.freqs = librosa.fft_frequencies(sr=ANALYSIS_SR, n_fft=N_FFT).astype(np.float32)
        self.sums = _Sums()
        self.mfcc = MfccAccumulator(sample_rate=ANALYSIS_SR, n_fft=N_FFT, spill_dir=spill_dir)
        self.chroma = _Chroma(sample_rate=ANALYSIS_SR, expected_frames=analysis_frames)
        self.loudness = LoudnessMeter(sample_rate=sample_rate, channels=channels)
        stft_hint = None if analysis_frames is None else 1 + analysis_frames // HOP_LENGTH
        self.spectrogram = ColumnMaxPool(width=PICTURE_COLUMNS, expected=stft_hint)
        self.envelope_hi = ColumnMaxPool(width=ENVELOPE_COLUMNS, expected=expected_frames)
        self.envelope_lo = ColumnMaxPool(width=ENVELOPE_COLUMNS, expected=expected_frames)

    def push(self, y: np.ndarray) -> None:
        """`y`: (channels, n) float32; NaN or infinite samples are refused (non_finite_samples)."""
        if y.shape[0] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got {y.shape[0]}")
        check_finite(y)
        mono = to_mono(y)
        self.samples += y.shape[1]
        self.sum_squares += float(np.square(mono, dtype=np.float64).sum())
        magnitude = np.abs(y)
        self.peak = max(self.peak, float(magnitude.max(initial=0.0)))
        self.sum += float(mono.sum(dtype=np.float64))
        self.clipped += int(np.count_nonzero(magnitude >= CLIP_LEVEL))
        self.over += int(np.count_nonzero(magnitude > 1.0))
        self.loudness.push(y)
        self.envelope_hi.push(mono[None, :])
        self.envelope_lo.push(-mono[None, :])
        if self.resampler is not None:
            mono = self.resampler.resample_chunk(np.ascontiguousarray(mono, dtype=np.float32))
        self._spectral(self.framer.push(mono))
        self.chroma.push(mono)

    def _spectral(self, frames: np.ndarray) -> None:
        if not len(frames):
            return
        mag = stft_magnitude(frames)
        self.sums.add_frames(mag=mag, frames=frames, freqs=self.freqs)
        self.mfcc.push(mag**2)
        self.spectrogram.push(mag)

    def finish(self) -> FeatureAnalysis:
        if self.samples == 0:
            raise AudioError("no samples to analyse", code="no_audio")
        tail = np.zeros(0, dtype=np.float32)
        if self.resampler is not None:  # the resampler's last samples
            tail = self.resampler.resample_chunk(tail, last=True)
            self._spectral(self.framer.push(tail))
        self._spectral(self.framer.finish())
        self.chroma.push(tail, last=True)
        lo = -self.envelope_lo.result()[0]
        return FeatureAnalysis(self._features(), self.spectrogram.result(), self.chroma.picture.result(),
                               (lo, self.envelope_hi.result()[0]), self.sr, self.samples / self.sr, HOP_LENGTH,
                               ANALYSIS_SR)

    def _features(self) -> dict:
        rms = float(np.sqrt(self.sum_squares / self.samples))
        total = float(self.chroma.energy.sum())
        distribution = (self.chroma.energy / total) if total > 0 else np.full(12, 1 / 12)
        mfcc_mean, mfcc_std = self.mfcc.result()
        s = self.sums
        lufs = self.loudness.result()
        return {
            "rms_energy": rms,
            "rms_dbfs": _db(rms),
            "peak_dbfs": _db(self.peak),
            "crest_factor_db": _crest_db(self.peak, rms),
            "loudness_lufs": lufs,
            "spectral_centroid_hz": s.mean(s.centroid),
            "spectral_bandwidth_hz": s.mean(s.bandwidth),
            "spectral_rolloff_hz": s.mean(s.rolloff),
            "zero_crossing_rate": s.zcr / s.frames,
            "mfcc": {"mean": _floats(mfcc_mean), "std": _floats(mfcc_std)},
            "chroma_distribution": _floats(distribution),
            "chroma_pitch_classes": list(PITCH_CLASSES),
            "dominant_pitch_class": PITCH_CLASSES[int(np.argmax(distribution))] if total > 0 else None,
            "silence_fraction": float(1.0 - s.voiced / s.frames),
            "channels": self.channels,
            "frame": {"n_fft": N_FFT, "hop_length": HOP_LENGTH, "frames": s.frames},
            "analysis_sample_rate": ANALYSIS_SR,  # the spectral features' (the result's sample_rate is the file's)
            "warnings": self._warnings(lufs),
        }

    def _warnings(self, lufs: float | None) -> list[str]:
        out = []
        if self.peak <= DIGITAL_SILENCE_PEAK:  # a stranger's silent file had no word of it here
            out.append(f"silent: the peak is at or below {20 * np.log10(DIGITAL_SILENCE_PEAK):.0f} dBFS; there is no "
                       "sound to describe (no loudness, pitch classes or spectrum)")
        elif lufs is None and self.samples >= LOUDNESS_BLOCK_SECONDS * self.sr:
            # a stranger's file at -60 dBFS peak had `loudness_lufs: null` and no word of why
            out.append(f"too quiet to measure loudness: every {LOUDNESS_BLOCK_SECONDS * 1000:.0f} ms block is below "
                       f"BS.1770's absolute gate of {ABSOLUTE_GATE_LUFS:.0f} LUFS (the peak is "
                       f"{20 * np.log10(self.peak):.1f} dBFS), so `loudness_lufs` is null")
        share = self.clipped / (self.samples * self.channels)
        # samples well over full scale (a float file) were not cut off at it: those files get the warning below alone
        # (a stranger's float WAV of noise at x3 had read "clipped: 73.9% ... (the peaks were cut off)" beside it)
        if share >= CLIP_SHARE and self.peak <= 10 ** (OVER_FULL_SCALE_DB / 20):
            out.append(f"clipped: {share:.1%} of the samples are at full scale (the peaks were cut off)")
        if self.peak > 10 ** (OVER_FULL_SCALE_DB / 20):
            # a stranger's battle.ogg peaked at +3.5 dBFS (1,778 samples over) with no word: too few to be called
            # clipped, yet they clip in any fixed-point export or playback without headroom
            peak_db = 20 * np.log10(self.peak)
            out.append(f"peaks above full scale: the loudest sample is {peak_db:+.1f} dBFS ({self.over} samples "
                       "over 0 dBFS); they clip when the audio is converted to a fixed-point format or played "
                       "without headroom")
        dc = self.sum / self.samples
        if abs(dc) > DC_LEVEL:
            out.append(f"DC offset: the waveform's mean is {dc:+.3f} of full scale ({_db(abs(dc)):.0f} dBFS); "
                       "a high-pass filter removes it")
        return out


def analyze_features(y: np.ndarray, sr: int) -> FeatureAnalysis:
    """The feature set of an array in memory ((channels, samples) or (samples,)) at `sr` Hz."""
    data = np.atleast_2d(np.asarray(y, dtype=np.float32))
    if data.size == 0:
        raise AudioError("no samples to analyse", code="no_audio")
    acc = FeatureAccumulator(sample_rate=sr, channels=data.shape[0], expected_frames=data.shape[1])
    step = max(N_FFT, int(ARRAY_BLOCK_SECONDS * sr))
    for start in range(0, data.shape[1], step):
        acc.push(data[:, start:start + step])
    return acc.finish()


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
        f"  loudness        {lufs:.1f} LUFS" if lufs is not None
        else "  loudness        n/a (shorter than 400 ms, silent, or quieter than BS.1770's -70 LUFS gate)",
        f"  peak            {_fmt_db(f['peak_dbfs'])} dBFS, RMS {f['rms_energy']:.4f} ({_fmt_db(f['rms_dbfs'])} dBFS)"
        if f["peak_dbfs"] is not None else "  peak            none: every sample is zero",
        # no frame with sound: 0 Hz throughout, which had been printed as a measure beside "no ... spectrum"
        f"  brightness      centroid {f['spectral_centroid_hz']:.0f} Hz, bandwidth "
        f"{f['spectral_bandwidth_hz']:.0f} Hz, roll-off {f['spectral_rolloff_hz']:.0f} Hz"
        if f["spectral_centroid_hz"] else "  brightness      none (no sound)",
        f"  noisiness       zero-crossing rate {f['zero_crossing_rate']:.4f}",
        # a silent file's chroma is uniform: "C 8%, C# 8%, D 8%" had been printed as if measured
        "  pitch classes   " + (", ".join(f"{k} {v:.0%}" for k, v in top) if f.get("dominant_pitch_class")
                                else "none (no pitched sound)"),
        "  MFCC means      " + " ".join(f"{v:.1f}" for v in f["mfcc"]["mean"]),
        *(f"  warning         {w}" for w in f.get("warnings", [])),
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
