"""The same groove at 8 and 11.025 kHz gets the tempo and beats it gets at 44.1 kHz.

A stranger's excerpt read 96 BPM from 16 kHz up and 48 BPM at 8 and 11.025 kHz: the beat network's top mel bands
(4-8 kHz) are empty below 16 kHz, and it hears the hi-hats that mark beats 2 and 4 of a half-time groove there.
"""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest
import soundfile as sf

from tests.music_signals import drum_loop, halftime_groove
from worker.audio_io import resample
from worker.music import beatnet
from worker.music.options import PitchOptions
from worker.music.pipeline import analyze_music, run_pitch

BPM = 96.0
SECONDS = 30.0
RHYTHM = PitchOptions(include=("tempo", "beats"))


@pytest.fixture(scope="module")
def groove() -> np.ndarray:
    return halftime_groove(BPM, SECONDS, sr=44100)


def _beat_f(beats: list[float]) -> float:
    grid = np.arange(0.0, SECONDS, 60.0 / BPM)
    return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(grid), mir_eval.beat.trim_beats(np.asarray(beats))))


def test_the_groove_at_44_1_khz_reads_96_bpm_on_every_beat(groove):
    result = analyze_music(groove, 44100, options=RHYTHM)
    assert result["tempo_bpm"] == pytest.approx(BPM, rel=0.02)
    assert _beat_f(result["beat_times"]) > 0.95


@pytest.mark.parametrize("rate", [8000, 11025])
def test_the_groove_at_a_telephone_or_old_game_rate_keeps_its_tempo_and_beats(groove, rate):
    result = analyze_music(resample(groove, orig_sr=44100, target_sr=rate), rate, options=RHYTHM)
    assert result["tempo_bpm"] == pytest.approx(BPM, rel=0.02)  # it had been 48.0
    assert _beat_f(result["beat_times"]) > 0.95  # 0.667: every other beat


def test_an_8_khz_file_is_analysed_at_its_own_band(groove, tmp_path):
    """The job reads the rate from the file (run_pitch), as analyze_music is given it."""
    path = tmp_path / "groove_8k.wav"
    sf.write(path, resample(groove, orig_sr=44100, target_sr=8000), 8000)
    result = run_pitch(audio_path=path, results_dir=tmp_path, options=RHYTHM)
    assert result["tempo_bpm"] == pytest.approx(BPM, rel=0.02)


def test_full_band_sources_are_given_the_network_input_unchanged():
    """From 16 kHz up every mel band is held: no band is replaced, so those results stay what they were."""
    weights = beatnet.load_weights()
    logmel = np.abs(np.random.default_rng(0).standard_normal((48, 50))).astype(np.float32)
    for top_hz in (8000.0, 11025.0, 22050.0):
        assert np.array_equal(beatnet.octave_sources(top_hz, 48), np.arange(48))
        assert beatnet.fill_missing_bands(logmel, top_hz, weights) is logmel
    assert beatnet.fill_missing_bands(logmel, None, weights) is logmel
    np.testing.assert_array_equal(beatnet.network_input(logmel, weights, top_hz=8000.0),
                                  beatnet.network_input(logmel, weights))


def test_an_8_khz_source_reads_its_missing_top_bands_from_an_octave_below():
    weights = beatnet.load_weights()
    src = beatnet.octave_sources(4000.0, 48)
    held = int(np.sum(src == np.arange(48)))
    assert 30 <= held < 40  # the bands up to ~3.6 kHz
    assert np.all(src[held:] < held) and np.all(np.diff(src[held:]) >= 0)
    mean, std = weights["in_mean"][:48, None], weights["in_std"][:48, None]
    z = 1.0 + np.arange(48)[:, None] % 5 + np.arange(4)[None, :]  # standard scores, > 0 (no clipping)
    logmel = (mean + std * z).astype(np.float32)
    filled = beatnet.fill_missing_bands(logmel, 4000.0, weights)
    np.testing.assert_array_equal(filled[:held], logmel[:held])
    np.testing.assert_allclose((filled[held:] - mean[held:]) / std[held:], z[src[held:]], rtol=1e-5)


def test_a_band_limited_reading_that_is_not_slow_is_the_plain_networks(monkeypatch):
    """The filled bands are heard only where the plain input's tempo is slow: a 100 BPM loop at 8 kHz (read right
    without them) gets the same tempo and beats with the fill switched off."""
    loop = resample(drum_loop(100.0, 20.0, sr=44100), orig_sr=44100, target_sr=8000)
    filled = analyze_music(loop, 8000, options=RHYTHM)
    monkeypatch.setattr(beatnet, "BAND_FILL", False)
    plain = analyze_music(loop, 8000, options=RHYTHM)
    assert filled["tempo_bpm"] == pytest.approx(100.0, rel=0.02)
    assert filled == plain
