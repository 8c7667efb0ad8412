"""The slow-attack beat anchor on beat sequences whose answer is known."""

from __future__ import annotations

import numpy as np

from worker.music.rhythm import Attack, anchor_to_first_attack, first_attack

PERIOD = 0.5  # s (120 BPM)


def _late_beats(lag: float, n: int = 24) -> np.ndarray:
    """The DP's beats on a slow-attack piece: on the first note, then settled `lag` s late."""
    beats = 1.0 + PERIOD * np.arange(n)
    beats[4:] += lag
    beats[1:4] += lag * np.arange(1, 4) / 4
    return beats


def test_steady_beats_after_a_slow_attack_become_a_grid_on_the_attack():
    out = anchor_to_first_attack(_late_beats(0.2), Attack(start=1.0, rise_seconds=0.2))
    np.testing.assert_allclose(out, 1.0 + PERIOD * np.arange(len(out)), atol=0.005)
    assert len(out) == 24


def test_fast_attack_irregular_beats_or_a_disagreeing_start_leave_the_beats_alone():
    beats = _late_beats(0.2)
    np.testing.assert_array_equal(anchor_to_first_attack(beats, Attack(1.0, 0.02)), beats)
    np.testing.assert_array_equal(anchor_to_first_attack(beats, None), beats)
    # the DP's first beat is a third of a beat away from the attack: a pickup, not this case
    np.testing.assert_array_equal(anchor_to_first_attack(beats, Attack(1.17, 0.2)), beats)
    rubato = 1.0 + np.cumsum(PERIOD * (1 + 0.2 * np.sin(np.arange(24))))
    np.testing.assert_array_equal(anchor_to_first_attack(rubato, Attack(rubato[0], 0.2)), rubato)


def test_first_attack_measures_a_ramp():
    fps = 22050 / 256
    t = np.arange(int(3 * fps)) / fps
    level = np.clip((t - 1.0) / 0.3, 0.0, 1.0)  # starts at 1 s, linear in amplitude over 0.3 s
    mag = np.tile(level, (8, 1))
    a = first_attack(mag)
    assert abs(a.start - 1.0) <= 2 / fps
    assert 0.12 <= a.rise_seconds <= 0.2  # -6 dB is half the amplitude: 0.15 s into the ramp
    assert first_attack(np.zeros((8, 100))) is None


def _bars_of_chords(meter: int, pickup: int, n_beats: int = 32) -> np.ndarray:
    """(12, n_beats + 1) beat chroma: a pickup, then one triad per bar of `meter` beats."""
    triads = [(0, 4, 7), (5, 9, 0), (7, 11, 2), (9, 0, 4)]
    seg = np.zeros((12, n_beats + 1))
    seg[[0, 4, 7], 0] = 1.0  # before the first beat
    for b in range(n_beats):
        bar = (b - pickup) // meter + 1
        seg[list(triads[bar % 4]), b + 1] = 1.0
    return seg / np.linalg.norm(seg, axis=0)


def test_bars_start_where_whole_bar_chords_change():
    from worker.music.rhythm import bar_positions

    beats = 0.5 * np.arange(32)
    flat = np.ones(int(17 * 22050 / 256))
    for meter in (3, 4):
        for pickup in range(meter):
            chroma = _bars_of_chords(meter, pickup)
            assert bar_positions(beats, flat, flat, chroma, chroma) == (meter, pickup)
    assert bar_positions(beats[:6], flat, flat) == (None, 0)
