"""Known answers for the rhythm labels of bench/classical_check.py: a benchmark whose labels are wrong
misleads every figure read from it (the chorales' first bar rule once cost a perfect decoder ~0.15)."""

from __future__ import annotations

import pytest

from bench.chorale_family import START_SECONDS
from bench.classical_check import beat_quarters, rhythm_truth


def score_of(time_signature: str, bars: list[list[float]], *, pickup: float = 0.0, change_at: int | None = None,
             new_signature: str = "3/4"):
    """One part: an optional pickup bar of `pickup` quarters, then one bar per list of note lengths."""
    from music21 import meter, note, stream

    part = stream.Part()
    measures = []
    if pickup:
        m = stream.Measure(number=0)
        m.append(note.Note("C4", quarterLength=pickup))
        m.paddingLeft = meter.TimeSignature(time_signature).barDuration.quarterLength - pickup
        measures.append(m)
    for i, lengths in enumerate(bars, start=1):
        m = stream.Measure(number=i)
        if change_at == i:
            m.append(meter.TimeSignature(new_signature))
        for ql in lengths:
            m.append(note.Note("E4", quarterLength=ql))
        measures.append(m)
    measures[0].insert(0, meter.TimeSignature(time_signature))
    part.append(measures)
    return stream.Score([part])


def test_compound_metre_beats_on_dotted_quarters_from_the_first_full_bar():
    # 6/8 with an eighth-note pickup, two bars of dotted quarters, 0.5 s per quarter note
    truth = rhythm_truth(score_of("6/8", [[1.5, 1.5], [1.5, 1.5]], pickup=0.5), 0.5, 36.0)
    assert truth["time_signature"] == "6/8"
    assert truth["tempo_bpm"] == pytest.approx(80.0)  # a dotted quarter every 0.75 s
    # the pickup is shorter than a beat: the first beat is the first bar's downbeat (quarter offset 0.5)
    assert truth["beats"] == pytest.approx([START_SECONDS + q * 0.5 for q in (0.5, 2.0, 3.5, 5.0, 6.5)])
    assert truth["downbeats"] == pytest.approx([START_SECONDS + q * 0.5 for q in (0.5, 3.5)])


def test_a_pickup_of_a_whole_beat_gets_its_beat():
    truth = rhythm_truth(score_of("3/4", [[1.0, 1.0, 1.0], [3.0]], pickup=1.0), 0.6, 36.0)
    assert truth["tempo_bpm"] == pytest.approx(100.0)
    assert truth["beats"][:2] == pytest.approx([START_SECONDS, START_SECONDS + 0.6])
    assert truth["downbeats"] == pytest.approx([START_SECONDS + 0.6, START_SECONDS + 2.4])


def test_the_render_cut_ends_the_labels():
    truth = rhythm_truth(score_of("4/4", [[4.0]] * 10), 0.5, 6.0)  # 12 quarters of a 40-quarter score heard
    assert truth["beats"][-1] == pytest.approx(START_SECONDS + 6.0)
    assert truth["downbeats"] == pytest.approx([START_SECONDS + 2.0 * k for k in range(4)])


def test_no_labels_where_the_notation_does_not_fix_the_beat():
    assert rhythm_truth(score_of("3/8", [[1.5], [1.5]]), 0.5, 36.0) == {}  # often felt one to the bar
    assert rhythm_truth(score_of("5/4", [[5.0], [5.0]]), 0.5, 36.0) == {}
    # a change of time signature within the rendered span; one after the cut does not matter
    changing = score_of("4/4", [[4.0], [4.0], [3.0]], change_at=3)
    assert rhythm_truth(changing, 0.5, 36.0) == {}
    assert rhythm_truth(changing, 0.5, 3.0)["time_signature"] == "4/4"


@pytest.mark.parametrize(("num", "den", "quarters"), [
    (2, 4, 1.0), (3, 4, 1.0), (4, 4, 1.0), (2, 2, 2.0), (3, 2, 2.0), (6, 8, 1.5), (9, 8, 1.5), (12, 8, 1.5),
    (3, 8, None), (5, 4, None), (4, 2, None), (7, 8, None)])
def test_beat_of_each_metre(num, den, quarters):
    assert beat_quarters(num, den) == quarters
