"""Known answers for bench/sonata_family.py, the classical-style openings the key model is fitted on: a phrase
plan that did not start at home, a cadence on the wrong degree or a note outside the local key would teach the
key model the wrong thing about what names a key."""

from __future__ import annotations

import numpy as np
import pytest

from bench.chorale_family import START_SECONDS
from bench.sonata_family import (
    MAJOR_SCALE,
    MINOR_SCALE,
    PHRASES,
    TRIPLE_REDUCTION,
    chord_spans,
    make_sonata,
    melody,
    nearest,
    plan,
    scale_step,
)


@pytest.mark.parametrize("mode", ["major", "minor"])
def test_plans_open_at_home_and_move_where_an_exposition_goes(mode):
    seen = set()
    for seed in range(60):
        phrases = plan(mode, np.random.default_rng(seed))
        # antecedent then consequent at home: the first half cadence on V, the first perfect cadence on I
        assert [(loc, m) for loc, m, _ in phrases[:2]] == [(0, mode), (0, mode)]
        assert phrases[0][2] in PHRASES[mode]["antecedent"] and phrases[0][2][-1][0] == 7
        assert phrases[1][2] in PHRASES[mode]["consequent"] and phrases[1][2][-1][0] == 0
        seen |= {(loc, m) for loc, m, _ in phrases[2:]}
    allowed = {"major": {(0, "major"), (5, "major"), (7, "major")},
               "minor": {(0, "minor"), (5, "minor"), (3, "major"), (7, "minor")}}[mode]
    assert seen <= allowed and {(7, "major") if mode == "major" else (3, "major")} <= seen


def test_every_phrase_ends_on_its_cadence_at_either_harmonic_rhythm():
    """Antecedents end on V (a half cadence), consequents and closings on V(7) -> I, in both the half-bar
    phrase and its one-chord-a-bar reduction (a 3/4 or 6/8 phrase that lost its V would teach that a
    plagal close names the key)."""
    for kinds in PHRASES.values():
        for kind, templates in kinds.items():
            for chords in templates:
                for phrase in (chords, [chords[k] for k in TRIPLE_REDUCTION]):
                    if kind == "antecedent":
                        assert phrase[-1][0] == 7
                    else:  # on the tonic, and the last chord before it is the dominant
                        roots = [root for root, _ in phrase]
                        assert roots[-1] == 0 and [r for r in roots if r][-1] == 7


def test_chord_spans_half_bars_in_duple_whole_bars_in_triple():
    phrases = [(0, "major", PHRASES["major"]["consequent"][0]), (7, "major", PHRASES["major"]["closing"][0])]
    duple = chord_spans(phrases, bar_q=4.0, per_bar=2, tonic=2)  # D major, then A major
    assert len(duple) == 16 and duple[0] == (0.0, 2.0, 2, "maj") and duple[7][:2] == (14.0, 16.0)
    assert duple[6][2:] == (2, "maj") and duple[8][2:] == (9, "maj")  # the PAC on D, the new phrase on A
    triple = chord_spans(phrases, bar_q=3.0, per_bar=1, tonic=2)
    assert len(triple) == 8 and [s[0] for s in triple[:3]] == [0.0, 3.0, 6.0]
    # I IV V7 I: the reduction keeps the perfect cadence, then the closing on A: A A E7 A
    assert [s[2:] for s in triple] == [(2, "maj"), (7, "maj"), (9, "7"), (2, "maj"), (9, "maj"), (9, "maj"),
                                       (4, "7"), (9, "maj")]


def test_melody_cadences_and_scale():
    rng = np.random.default_rng(4)
    tonic = 9  # A minor
    phrases = [(0, "minor", PHRASES["minor"]["antecedent"][0]), (0, "minor", PHRASES["minor"]["consequent"][0])]
    spans = chord_spans(phrases, bar_q=4.0, per_bar=2, tonic=tonic)
    notes = melody(spans, phrases, tonic=tonic, beat_q=1.0, compound=False, per_bar=2, rng=rng)
    harmonic_minor = {(tonic + d) % 12 for d in MINOR_SCALE}
    assert {p % 12 for _, _, p in notes} <= harmonic_minor
    assert all(64 <= p <= 86 for _, _, p in notes)
    held = {start: (length, p) for start, length, p in notes}
    assert held[14.0] == (2.0, held[14.0][1]) and held[14.0][1] % 12 == 8  # half cadence: G#, the leading tone
    assert held[30.0][0] == 2.0 and held[30.0][1] % 12 == tonic  # perfect cadence: the tonic
    starts = [s for s, _, _ in notes]
    assert starts == sorted(starts) and notes[-1][0] + notes[-1][1] == pytest.approx(32.0)


def test_pitch_helpers():
    assert nearest(7, 72) == 67 and nearest(0, 72) == 72 and nearest(1, 62) == 73  # kept at 64 or above
    assert scale_step(71, 1, [(d + 0) % 12 for d in MAJOR_SCALE]) == 72  # B -> C
    assert scale_step(72, -1, [(d + 9) % 12 for d in MINOR_SCALE]) == 71  # C -> B in A harmonic minor


def test_items_label_the_home_key_and_stop_at_the_cut():
    for index in (0, 17, 30):
        pm, truth = make_sonata(index, np.random.default_rng(123 + index), max_seconds=20.0)
        tonic, mode = index % 12, "major" if index % 24 < 12 else "minor"
        names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
        assert truth["key"] == f"{names[tonic]} {mode}" and truth["family"] == "sonata"
        notes = [n for inst in pm.instruments for n in inst.notes]
        assert min(n.start for n in notes) == pytest.approx(START_SECONDS)
        assert max(n.start for n in notes) <= START_SECONDS + 20.0
        # the first sounding chord is the home tonic triad (bass on the tonic)
        first = {n.pitch % 12 for n in notes if n.start == pytest.approx(START_SECONDS)}
        third = 4 if mode == "major" else 3
        assert first - {tonic, (tonic + third) % 12, (tonic + 7) % 12} == set() and tonic in first
