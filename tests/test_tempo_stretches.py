"""Known answers for the stretches where tracked beats leave the tempo given (worker/music/tempo_changes.py), from
beat times laid out by hand: what a stranger's trial on hedgewars-data's soundtrack found in the warning."""

from __future__ import annotations

import numpy as np

from worker.music.tempo_changes import kept_tempo, tempo_change_warning, tempo_stretches


def beats_at(*parts: tuple[float, int]) -> np.ndarray:
    """Beat times from 0 s: `count` beats at `bpm` for each (bpm, count) in turn."""
    return from_steps([60.0 / bpm for bpm, count in parts for _ in range(count)])


def from_steps(steps: list[float]) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(steps)])


def test_a_stretch_split_by_single_beats_back_at_the_tempo_given_is_one_stretch():
    """Freeway.ogg (107 BPM given) was warned of "about 157 BPM at 70.3-118.5, 119.0-121.0, 121.5-133.5,
    134.1-136.0 s": its beats run at 157 BPM there but for a hiccup every 20 beats or so (0.743, 0.546 s, where the
    rest are 0.37-0.38 s), which reads as a beat or two back at the tempo given. Here the same shape, four times."""
    hiccup = [0.74, 0.55, 0.55]
    steps = [0.56] * 60 + ([0.38] * 20 + hiccup) * 4 + [0.38] * 20 + [0.56] * 60
    beats = from_steps(steps)
    stretches = tempo_stretches(beats, 107.0)
    assert [round(s["bpm"] / 10) * 10 for s in stretches] == [110, 160, 110], stretches
    fast = stretches[1]
    assert abs(fast["start"] - beats[60]) < 0.5 and abs(fast["end"] - beats[60 + 4 * 23 + 20]) < 1.0, stretches
    assert abs(fast["bpm"] - 158.0) < 2.0
    warning, = tempo_change_warning(stretches, 107.0)
    assert f"the beats run at about 158 BPM at {fast['start']:.1f}-{fast['end']:.1f} s (" in warning


def test_a_return_between_two_other_tempi_stays_a_return():
    """Beats at 157, back at the tempo given for two beats, then at 80: two stretches of their own, not one."""
    beats = beats_at((107.0, 40), (157.0, 30), (107.0, 2), (80.0, 20), (107.0, 40))
    bpms = [round(s["bpm"]) for s in tempo_stretches(beats, 107.0)]
    assert len(bpms) == 5 and abs(bpms[1] - 157) <= 2 and abs(bpms[3] - 80) <= 2, bpms


def test_a_short_return_whose_own_beats_run_away_is_no_return():
    """hedgewars' Desert.ogg (160 BPM given): its first 33 beat intervals as tracked, 139.7 BPM for 16 beats, one
    beat whose median-filtered interval (0.407 s, 147.4 BPM) sat just inside TEMPO_CHANGE_SHARE though the beat
    itself ran at 139.5, then 129 BPM. That beat was kept as a stretch "at the tempo given" reading 139.7 BPM, two
    neighbouring stretches at one tempo in the JSON, and the warning named 0.0-6.9, 6.9-7.3, 7.3-14.3 s. A short
    return slower than the tempo given between two slower stretches is part of them: one stretch, one span."""
    desert = [0.418, 0.406, 0.441, 0.453, 0.453, 0.441, 0.429, 0.442, 0.429, 0.43, 0.429, 0.407, 0.418, 0.418, 0.406,
              0.429, 0.43, 0.406, 0.407, 0.418, 0.511, 0.51, 0.523, 0.522, 0.476, 0.465, 0.464, 0.465, 0.452, 0.453,
              0.453, 0.441]
    beats = from_steps([60.0 / 160.0] * 100 + desert + [60.0 / 160.0] * 300)
    stretches = tempo_stretches(beats, 160.0)
    away = [abs(s["bpm"] / 160.0 - 1.0) > 0.08 for s in stretches]
    assert away == [False, True, False], stretches
    warning, = tempo_change_warning(stretches, 160.0)
    assert f"at {stretches[1]['start']:.1f}-{stretches[1]['end']:.1f} s (" in warning, warning


def test_a_short_return_at_one_neighbours_tempo_is_part_of_that_stretch():
    """hedgewars' Desert.ogg (160 BPM given) at 262-269 s, its beat intervals as tracked: 136 BPM, then two beats
    whose median-filtered intervals sat within TEMPO_CHANGE_SHARE of 160 though they ran at 178, then 185 BPM. That
    return stayed a stretch "at the tempo given" of its own between a slower and a faster one, and the warning named
    "about 181 BPM at 15.2-15.9, 15.9-18.2 s". It starts the faster stretch: one span; the slower one stays apart."""
    desert = [0.383, 0.429, 0.43, 0.418, 0.453, 0.476, 0.441, 0.441, 0.476, 0.36, 0.313, 0.349, 0.336, 0.337, 0.314,
              0.313, 0.314, 0.325]
    beats = from_steps([0.375] * 30 + desert + [0.375] * 30)
    stretches = tempo_stretches(beats, 160.0)
    assert [round(s["bpm"]) for s in stretches] == [160, 136, 185, 160], stretches
    assert stretches[1]["end"] == stretches[2]["start"] == 15.2, stretches
    assert "about 185 BPM at 15.2-18.2 s (" in tempo_change_warning(stretches, 160.0)[0]


def test_a_wobble_over_one_percent_of_the_beats_keeps_the_tempo_given():
    """oriental.ogg (160 BPM over 207 s) was warned of "about 178 BPM at 107.2-108.9 s (1% of their span)"."""
    beats = beats_at((160.0, 280), (178.0, 6), (160.0, 270))
    assert tempo_stretches(beats, 160.0) == []
    assert tempo_change_warning(tempo_stretches(beats, 160.0), 160.0) == []
    longer = beats_at((160.0, 280), (178.0, 30), (160.0, 270))  # 10 s of 207: said
    assert [round(s["bpm"]) for s in tempo_stretches(longer, 160.0)] == [160, 178, 160]


def test_the_tempo_the_beats_keep_over_most_of_their_span_is_found():
    """warzone2100-music's track15 was given the comb's 106.7 BPM where its beats keep ~162 over 84 % of the
    track (madmom and Essentia: ~160), 3/2 of the comb's: that tempo and its share are read off the stretches."""
    beats = beats_at((106.7, 30), (162.0, 240), (106.7, 12))
    kept = kept_tempo(beats, tempo_stretches(beats, 106.7), 106.7)
    assert kept is not None and abs(kept[0] - 162.0) < 1.0 and 0.78 < kept[1] < 0.9, kept


def test_a_tempo_the_beats_keep_for_less_than_most_of_their_span_is_not_the_tempo():
    """A piece that moves to another tempo for its second half, or a few stretches at another tempo, keeps the
    tempo given: only a tempo kept over KEPT_TEMPO_SHARE of the beats' span replaces it."""
    for beats in (beats_at((120.0, 100), (150.0, 110)), beats_at((120.0, 60), (80.0, 20), (120.0, 60))):
        assert kept_tempo(beats, tempo_stretches(beats, 120.0), 120.0) is None
    # beats that drift to a tempo in no simple ratio to the comb's are the tracker's: a test split's drum'n'bass loop
    # (116 BPM) read at 58.1 by the comb had beats at 68.5 over most of it
    drifting = beats_at((58.1, 20), (68.5, 150))
    assert kept_tempo(drifting, tempo_stretches(drifting, 58.1), 58.1) is None
    assert kept_tempo(beats_at((120.0, 200)), [], 120.0) is None
