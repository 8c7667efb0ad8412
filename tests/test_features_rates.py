"""The features of the same music do not depend on the sample rate of the file that holds it.

A stranger's 192 kHz copy of a track read a zero-crossing rate of 0.0086 against 0.0371 at 44.1 kHz and a first
MFCC of -445 against -358, and came 12th in the original's similar list: frames, zero crossings and mel bands
had all been counted in the file's samples. The spectral features now come from a 44.1 kHz copy made as the file
streams (worker/features/descriptors.py, ANALYSIS_SR).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from worker.features.pipeline import analyze_file

BASE_SR = 22050
SECONDS = 8.0
SPECTRAL = ("spectral_centroid_hz", "spectral_bandwidth_hz", "spectral_rolloff_hz")


def band_limited_music(sr: int = BASE_SR) -> np.ndarray:
    """(2, n) at `sr`: chords of harmonic tones with an attack and decay, a hi-hat-like noise burst on each beat
    (all under 10 kHz, so a 22.05 kHz file holds the whole of it) and a second of digital silence."""
    rng = np.random.default_rng(3)
    t = np.arange(int(SECONDS * sr)) / sr
    y = np.zeros_like(t)
    for i, root in enumerate((220.0, 174.6, 261.6, 196.0)):  # A, F, C, G: two seconds each
        span = (t >= 2 * i) & (t < 2 * i + 2)
        local = t[span] - 2 * i
        for ratio in (1.0, 1.25, 1.5):
            for h in range(1, 8):
                y[span] += 0.08 / h * np.sin(2 * np.pi * root * ratio * h * local) * np.exp(-1.5 * local)
    noise = scipy.signal.sosfilt(scipy.signal.butter(8, [4000, 9000], "bandpass", fs=sr, output="sos"),
                                 rng.standard_normal(len(t)))
    beat = (t % 0.5) < 0.05
    y += 0.3 * noise * beat
    y[(t >= 5.0) & (t < 6.0)] = 0.0  # cut: the resamplers' ringing after it is no sound (SILENCE_LEVEL)
    return np.stack([y, 0.8 * y]).astype(np.float32)


def written_at(tmp_path, sr: int) -> str:
    """The music at `sr`, resampled from BASE_SR (as a studio's export at another rate would be)."""
    import soundfile as sf
    import soxr

    y = band_limited_music()
    if sr != BASE_SR:
        y = soxr.resample(y.T, BASE_SR, sr, quality="VHQ").T
    path = tmp_path / f"music_{sr}.wav"
    sf.write(path, y.T, sr, subtype="FLOAT")
    return str(path)


def close_features(a: dict, b: dict) -> None:
    """Within a resampler's error: measured 0.05 % apart at most (ZCR, centroid), MFCC means 0.05 apart."""
    assert a["zero_crossing_rate"] == pytest.approx(b["zero_crossing_rate"], rel=0.005)
    for key in SPECTRAL:
        assert a[key] == pytest.approx(b[key], rel=0.002), key
    np.testing.assert_allclose(a["mfcc"]["mean"], b["mfcc"]["mean"], atol=0.25)
    np.testing.assert_allclose(a["mfcc"]["std"], b["mfcc"]["std"], atol=0.25)
    np.testing.assert_allclose(a["chroma_distribution"], b["chroma_distribution"], atol=1e-4)
    assert a["silence_fraction"] == pytest.approx(b["silence_fraction"], abs=0.003)
    assert a["loudness_lufs"] == pytest.approx(b["loudness_lufs"], abs=0.03)
    assert a["rms_dbfs"] == pytest.approx(b["rms_dbfs"], abs=0.005)
    assert a["frame"]["frames"] == pytest.approx(b["frame"]["frames"], abs=1)


@pytest.mark.parametrize("sr", [96000, 192000])
def test_the_same_music_at_22_and_at_96_or_192_khz_reads_the_same_features(tmp_path, sr):
    low = analyze_file(written_at(tmp_path, BASE_SR)).features
    path = written_at(tmp_path, sr)
    high = analyze_file(path).features
    assert high["zero_crossing_rate"] > 0.01  # noise bursts: a measurable rate
    close_features(high, low)
    assert high["analysis_sample_rate"] == low["analysis_sample_rate"] == 44100
    # resampled as the file streams: blocks of 0.37 s (edges inside frames and inside the resampler's filter) give
    # the 10 s blocks' features
    small = analyze_file(path, block_seconds=0.37).features
    for key in (*SPECTRAL, "zero_crossing_rate", "silence_fraction"):
        assert small[key] == pytest.approx(high[key], rel=1e-4), key
    np.testing.assert_allclose(small["mfcc"]["mean"], high["mfcc"]["mean"], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(small["chroma_distribution"], high["chroma_distribution"], atol=1e-5)
    assert small["frame"]["frames"] == high["frame"]["frames"]


def test_the_job_names_the_file_rate_and_the_analysis_rate(tmp_path):
    from worker.features.options import FeaturesOptions
    from worker.features.pipeline import run_features

    result = run_features(audio_path=Path(written_at(tmp_path, 48000)), results_dir=tmp_path,
                          options=FeaturesOptions(picture=False))
    assert result["sample_rate"] == 48000 and result["audio_features"]["analysis_sample_rate"] == 44100
    assert result["duration_seconds"] == pytest.approx(SECONDS, abs=1e-3)

