"""A 4/4 groove read at two thirds of its beat (worker/music/three_two.py): known answers on the downbeat
output, and synthetic tresillo grooves through the whole analysis."""

from __future__ import annotations

import numpy as np
import pytest

from tests.music_signals import SR, tresillo_groove
from worker.music import beats, three_two
from worker.music.options import PitchOptions
from worker.music.pipeline import analyze_music

FPS = beats.FPS


def _downbeats(bar_seconds: float, seconds: float = 60.0) -> np.ndarray:
    """A downbeat output firing once a bar (a 60 ms bump), near zero elsewhere."""
    t = np.arange(int(seconds * FPS)) / FPS
    phase = np.mod(t, bar_seconds)
    return np.exp(-0.5 * (np.minimum(phase, bar_seconds - phase) / 0.03) ** 2) + 0.01


def test_bars_of_four_faster_beats_take_the_faster_tempo():
    """Bars every 2.0 s: 4 beats at 120 BPM, 2.67 at the comb's 80; the faster reading is taken."""
    down = _downbeats(2.0)
    assert three_two.faster_bar_evidence(down, 80.0, FPS) > three_two.THREE_TWO_MARGIN
    assert beats.bar_checked_tempo(down, 80.0) == pytest.approx(120.0)


def test_bars_of_the_comb_reading_keep_it():
    """Bars every 3.0 s are 4 beats at 80 BPM (and 6 at 120): 80 stays; so do bars of 2 beats at 80."""
    for bar in (3.0, 1.5):
        assert three_two.faster_bar_evidence(_downbeats(bar), 80.0, FPS) < 0
        assert beats.bar_checked_tempo(_downbeats(bar), 80.0) == 80.0


def test_too_short_or_too_fast_is_left_alone():
    """24 faster beats are needed (12 s at 120 BPM), and the faster tempo must be one the tracker reads."""
    assert three_two.faster_bar_evidence(_downbeats(2.0, seconds=10.0), 80.0, FPS) is None
    assert beats.bar_checked_tempo(_downbeats(2.0, seconds=10.0), 80.0) == 80.0
    assert beats.bar_checked_tempo(_downbeats(0.75), 200.0) == 200.0  # 300 BPM is past MAX_BPM


@pytest.mark.parametrize("bpm,snare", [(120.0, False), (128.0, True)])
def test_a_tresillo_groove_is_read_at_its_beat_not_its_dotted_quarter(bpm, snare):
    """Kick and bass 3 + 3 + 2 eighths apart: the beat activation peaks every dotted quarter and the comb had read
    two thirds of the beat as 12/8 (80.1 and 85.4 BPM when measured, as xmoto's tracks read 80-94 for 120-142)."""
    res = analyze_music(tresillo_groove(bpm, snare=snare), SR, options=PitchOptions(include=("tempo", "beats")))
    assert res["tempo_bpm"] == pytest.approx(bpm, rel=0.04), res["tempo_bpm"]
    assert res["time_signature"] == "4/4", res["time_signature"]
