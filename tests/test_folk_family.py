"""Known answers for bench/folk_family.py, the drum-less folk tunes the beat network trains on: a wrong beat
label or an accompaniment off the notated beat would teach the network the wrong metre (these items exist to
teach it 6/8 and 3/4 without drums)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.chorale_family import START_SECONDS
from bench.folk_family import add_accompaniment, chord_spans, make_folk, metre_of, tonic_and_mode

JIG = """X:1
T:Test Jig
M:6/8
L:1/8
K:G
D|GBd gdB|GBd g2d|cea gfe|dBG A2D|GBd gdB|GBd g2d|cea gfe|dBG G2:|
B|cAF DFA|cAF D2B|GBd gdB|GBd g2B|cAF DFA|cAF D2F|GFG Bcd|ecA G2|]
"""
WALTZ = """X:2
T:Test Waltz
M:3/4
L:1/4
K:Am
A B c|e2 d|c B A|E3|A B c|e2 d|c B ^G|A3|A B c|e2 d|c B A|E3|
"""


def _notes(pm, program: int | None = None) -> list:
    return sorted((n for inst in pm.instruments if program is None or inst.program == program for n in inst.notes),
                  key=lambda n: n.start)


def test_metre_spellings():
    assert metre_of("X:1\nM:C|\nK:D\n") == "2/2"
    assert metre_of("X:1\nM: C\nK:D\n") == "4/4"
    assert metre_of("X:1\nM:9/8\nK:D\n") == "9/8"
    assert metre_of("X:1\nK:D\n") is None


def test_jig_beats_are_dotted_quarters_from_the_first_full_bar():
    made = make_folk(JIG, np.random.default_rng(3))
    assert made is not None
    pm, truth = made
    q = 60.0 / (truth["beat_bpm"] * 1.5)  # seconds per quarter note
    assert truth["time_signature"] == "6/8"
    assert truth["tempo_bpm"] == pytest.approx(truth["beat_bpm"])
    # an eighth-note pickup: the first beat is the first full bar's downbeat, half a quarter after the start
    assert truth["beats"][0] == pytest.approx(START_SECONDS + 0.5 * q)
    assert np.diff(truth["beats"]) == pytest.approx(np.full(len(truth["beats"]) - 1, 1.5 * q))
    assert np.diff(truth["downbeats"]) == pytest.approx(np.full(len(truth["downbeats"]) - 1, 3.0 * q))
    # the tune's first note is the pickup, at the start
    assert min(n.start for n in _notes(pm)) == pytest.approx(START_SECONDS)


def test_the_accompaniment_stops_with_the_tune():
    # 12 bars of 3/4 at over 100 beats a minute: the tune ends long before the 30 s render would
    made = next(m for m in (make_folk(WALTZ, np.random.default_rng(seed)) for seed in range(40))
                if m is not None and m[1]["beat_bpm"] > 100 and m[1]["texture"] in ("oompah", "pad"))
    pm, truth = made
    beat = 60.0 / truth["beat_bpm"]
    assert truth["beats"][-1] == pytest.approx(START_SECONDS + 36 * beat)  # the tune's end, not 30 s
    assert max(n.start for n in _notes(pm)) < truth["beats"][-1]  # nothing sounds unlabelled after it
    bass = min(pm.instruments, key=lambda inst: min(n.pitch for n in inst.notes))
    starts = np.array([n.start for n in bass.notes])
    assert np.min(np.abs(starts[:, None] - np.array(truth["beats"])[None]), axis=1).max() < 1e-6  # on the beats


@pytest.mark.parametrize("texture", ["oompah", "broken", "pad"])
def test_accompaniment_sits_on_the_compound_grid(texture):
    import pretty_midi
    from music21 import converter

    score = converter.parse(JIG, format="abc")
    tonic, mode = tonic_and_mode(score)
    assert (tonic, mode) == (7, "major")
    q = 0.4
    spans = chord_spans(score, span_q=1.5, origin=0.5, tonic=tonic, mode=mode, end_q=12.5)
    pm = pretty_midi.PrettyMIDI()
    add_accompaniment(pm, spans, texture=texture, beat_q=1.5, compound=True, bar_q=3.0, q=q, origin=0.5, shift=0,
                      program=0, max_seconds=30.0, rng=np.random.default_rng(0))
    onsets_q = np.array([(n.start - START_SECONDS) / q for n in _notes(pm)]) - 0.5  # quarters from bar 1
    assert onsets_q.min() == pytest.approx(0.0)  # nothing under the pickup
    eighths = onsets_q / 0.5
    assert eighths == pytest.approx(np.round(eighths))  # every onset on an eighth of the grid
    positions = set(np.round(eighths).astype(int) % 3)
    expected = {"oompah": {0, 2}, "broken": {0, 1, 2}, "pad": {0}}[texture]
    assert positions == expected  # oom-pah: bass on the beat, chord on the third eighth


def test_harmoniser_follows_the_melody():
    from music21 import converter

    score = converter.parse(WALTZ, format="abc")
    tonic, mode = tonic_and_mode(score)
    assert (tonic, mode) == (9, "minor")
    spans = chord_spans(score, span_q=3.0, origin=0.0, tonic=tonic, mode=mode, end_q=24.0)
    names = [(root, quality) for _, _, root, quality in spans]
    assert names[0] == (9, "min")  # A B C: A minor
    assert names[3] == (4, "maj")  # E held: the dominant, major in a minor key
    assert [s[0] for s in spans] == pytest.approx([3.0 * k for k in range(8)])


def test_tunes_the_notation_does_not_fix_are_skipped():
    assert make_folk(JIG.replace("M:6/8", "M:3/8"), np.random.default_rng(0)) is None
    assert make_folk("X:3\nT:Short\nM:2/4\nL:1/8\nK:D\nDF|A2 d2|]\n", np.random.default_rng(0)) is None  # too short


def test_the_folk_check_never_draws_a_tune_the_fit_corpus_may_draw():
    """bench/folk_check.py's tunes are held out from the folk fit corpus by excluding every candidate the fit's
    draw can take (a superset of what it renders); the draw keeps the metres' shares and stays deterministic."""
    from collections import Counter

    from bench.folk_check import DEFAULT_N, SEED
    from bench.folk_family import FOLK_ITEMS, FOLK_SEED, METRE_SHARE, fit_sources, pick_tunes

    fit = fit_sources()
    assert fit == {s for s, _ in pick_tunes(FOLK_ITEMS, np.random.default_rng(FOLK_SEED))}
    check = pick_tunes(DEFAULT_N, np.random.default_rng(SEED), fit)
    assert check and not {s for s, _ in check} & fit
    assert check == pick_tunes(DEFAULT_N, np.random.default_rng(SEED), fit)
    metres = Counter(metre_of(text) for _, text in check)
    assert set(metres) <= set(METRE_SHARE) and metres["6/8"] > metres["4/4"]
