"""Known answers for the key model's evidence and the shipped weights' symmetry (worker/music/keymodel.py)."""

import numpy as np
import pytest

from worker.music import keymodel
from worker.music.keymodel import ROWS, chord_evidence, key_log_probabilities, load_weights

# "N" lead-in, then F  G7  C  Am, two seconds each
CHORDS = [(None, None, 0.0, 0.5), (5, "maj", 0.5, 2.5), (7, "7", 2.5, 4.5), (0, "maj", 4.5, 6.5), (9, "min", 6.5, 8.5)]


def row(rows: np.ndarray, name: str) -> np.ndarray:
    return rows[ROWS.index(name) - 2]  # chord_evidence returns ROWS[2:]


def test_chord_rows_share_first_last_and_cadence():
    rows, style = chord_evidence(CHORDS, duration=8.5)
    assert rows.shape == (len(ROWS) - 2, 12)
    # four chords of 2 s: each holds a quarter of the sounding time, x12
    assert row(rows, "maj")[[0, 5]].tolist() == [3.0, 3.0] and row(rows, "7")[7] == 3.0 and row(rows, "min")[9] == 3.0
    assert row(rows, "maj").sum() + row(rows, "min").sum() + row(rows, "7").sum() == pytest.approx(12.0)
    # the "N" lead-in is not the first chord: F is; the last is A minor
    assert np.flatnonzero(row(rows, "first_major")).tolist() == [5] and not row(rows, "first_minor").any()
    assert np.flatnonzero(row(rows, "last_minor")).tolist() == [9] and not row(rows, "last_major").any()
    # one falling fifth from a major-type chord (G7 -> C) of the four changes; F -> G and C -> Am are not
    assert row(rows, "cadence_major").tolist() == [3.0] + [0.0] * 11 and not row(rows, "cadence_minor").any()
    # entropy of four equal shares is 2 bits (/4), 4 chords in 8.5 s, 4 distinct labels (/20)
    assert style.tolist() == pytest.approx([0.5, 4 / 8.5, 0.2])


def test_no_chords_give_empty_evidence():
    rows, style = chord_evidence([(None, None, 0.0, 3.0)], duration=3.0)
    assert not rows.any() and style.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.skipif(load_weights() is None, reason="worker/music/key_model.npz is not there")
def test_transposed_evidence_transposes_the_key_probabilities():
    """Every key is scored by the same weights on rotated evidence: moving the music up k semitones moves
    each key's probability with it, the mode kept."""
    rng = np.random.default_rng(3)
    ev = rng.normal(size=(keymodel.N_EVIDENCE, 12))
    style = np.array([0.5, 0.6, 0.3])
    base = key_log_probabilities(ev, style, load_weights())
    assert np.exp(base).sum() == pytest.approx(1.0)
    for k in (1, 5, 7):
        moved = key_log_probabilities(np.roll(ev, k, axis=1), style, load_weights())
        expected = np.concatenate([np.roll(base[:12], k), np.roll(base[12:], k)])
        np.testing.assert_allclose(moved, expected, atol=1e-9)
