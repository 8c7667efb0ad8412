"""bench/pushed_family.py: grooves whose accents are pushed by an eighth for runs of bars, labelled on the true
beats (the beat network's lesson for rock's pushed sections, issue 12). The labels must stay on the steady grid
while a pushed bar's first kick sits half a beat off it; the family is rendered only on request, with seeds of
its own, and never into the test set."""

from __future__ import annotations

import numpy as np

from bench.music_families import FAMILIES
from bench.music_styles import HELD_OUT_STYLES, KICK, STYLES
from bench.pushed_family import pushed_song
from bench.testset_families import FAMILY_COUNTS, PUSHED_SEED, TRAIN_FAMILIES, TRAIN_SEED

SEEN = sorted(s for s in STYLES if s not in HELD_OUT_STYLES)


def test_pushed_bars_move_the_kick_half_a_beat_and_the_labels_stay_on_the_grid():
    checked = 0
    for index in range(6):
        pm, truth = pushed_song(index, np.random.default_rng(900 + index), SEEN)
        beats = np.array(truth["beats"])
        period = 60.0 / truth["tempo_bpm"]
        assert np.allclose(np.diff(beats), period, atol=1e-3)
        assert truth["downbeats"] == truth["beats"][::4] and truth["time_signature"] == "4/4"
        pushed = {bar: shift for bar, shift, *_ in truth["pushed_bars"]}
        assert pushed and 0 not in pushed  # the song opens on the labelled grid
        kit = next(inst for inst in pm.instruments if inst.is_drum)
        kicks = np.array(sorted(n.start for n in kit.notes if n.pitch == KICK))
        for bar in range(len(beats) // 4):
            start = beats[4 * bar]
            first = kicks[np.argmin(np.abs(kicks - (start + pushed.get(bar, 0.0) * period)))]
            assert abs(first - (start + pushed.get(bar, 0.0) * period)) < 1e-3
            checked += bar in pushed
    assert checked >= 6


def test_the_pushed_grooves_are_opt_in_with_seeds_of_their_own_and_never_in_the_test_set():
    assert "pushed" in TRAIN_FAMILIES and "pushed" not in FAMILIES and "pushed" not in FAMILY_COUNTS
    assert PUSHED_SEED == TRAIN_SEED + 10000 * len(FAMILIES)  # past every default family's seeds
