"""Known answers for the home key (worker/music/keymodel.py `home_key`) and what a reader is told of it
(worker/music/key.py): a through-composed piece that opens on its tonic chord and moves to its dominant key."""

import numpy as np
import pytest

from worker.music import keymodel
from worker.music.key import _model_key, key_label, key_warnings
from worker.music.keymodel import ROWS, home_key, opening_chord_key

C_MAJOR, G_MAJOR, C_MINOR, G_MINOR, A_MINOR = 0, 7, 12, 19, 21
THROUGH_COMPOSED = np.array([0.8, 0.5, 0.6])  # chord entropy 0.8 (x 4 bits), as a chorale's
LOOP = np.array([0.5, 0.5, 0.2])  # four chords of equal share: 2 bits


def evidence_opening_on(root: int, minor: bool = False) -> np.ndarray:
    ev = np.zeros((keymodel.N_EVIDENCE, 12))
    ev[ROWS.index("first_minor" if minor else "first_major"), root] = 1.0
    return ev


def probabilities(top: int, p_top: float, other: int, p_other: float) -> np.ndarray:
    p = np.full(24, (1.0 - p_top - p_other) / 22)
    p[top], p[other] = p_top, p_other
    return p


def test_opening_chord_key_reads_the_first_chord_rows():
    assert opening_chord_key(evidence_opening_on(0)) == C_MAJOR
    assert opening_chord_key(evidence_opening_on(0, minor=True)) == C_MINOR
    assert opening_chord_key(np.zeros((keymodel.N_EVIDENCE, 12))) is None


def test_a_piece_opening_on_its_tonic_read_in_its_dominant_is_reported_in_its_home_key():
    p = probabilities(G_MAJOR, 0.85, C_MAJOR, 0.12)  # C at 0.14 of G: over HOME_KEY_RATIO
    assert home_key(p, evidence_opening_on(0), THROUGH_COMPOSED) == C_MAJOR
    # minor: C minor's tonic chord opens, G minor (its dominant key, same mode) is most probable
    p = probabilities(G_MINOR, 0.6, C_MINOR, 0.35)
    assert home_key(p, evidence_opening_on(0, minor=True), THROUGH_COMPOSED) == C_MINOR


@pytest.mark.parametrize("case", ["loop", "too_unlikely", "other_mode", "relative", "opens_on_top", "no_chord",
                                  "turned_off"])
def test_the_home_key_stays_out_otherwise(case, monkeypatch):
    p, ev, style = probabilities(G_MAJOR, 0.85, C_MAJOR, 0.12), evidence_opening_on(0), THROUGH_COMPOSED
    if case == "loop":  # a four-chord loop entered on IV is not a piece in IV
        style = LOOP
    elif case == "too_unlikely":
        p = probabilities(G_MAJOR, 0.95, C_MAJOR, 0.05)  # 0.05 < 0.1 x 0.95
    elif case == "other_mode":  # opens on C minor, G major most probable: not its dominant key
        ev = evidence_opening_on(0, minor=True)
    elif case == "relative":  # opens on A minor, C major most probable: its relative key, not its dominant key
        p = probabilities(C_MAJOR, 0.85, A_MINOR, 0.12)
        ev = evidence_opening_on(9, minor=True)
    elif case == "opens_on_top":
        ev = evidence_opening_on(7)
    elif case == "no_chord":
        ev = np.zeros((keymodel.N_EVIDENCE, 12))
    elif case == "turned_off":
        monkeypatch.setattr(keymodel, "HOME_KEY_RATIO", 0.0)
    assert home_key(p, ev, style) is None


def test_the_home_key_is_reported_with_its_own_confidence_and_the_reason():
    p = probabilities(G_MAJOR, 0.85, C_MAJOR, 0.12)
    key = _model_key(p, 0.9, 1.0, 4, home=C_MAJOR)
    assert key["label"] == "C major" and key["index"] == C_MAJOR
    assert key["score"] == pytest.approx(0.12) and key["confidence"] <= 0.12  # the home key's probability, not 0.85
    assert key["candidates"][0]["label"] == key_label(G_MAJOR)  # the model's most probable key is the runner-up
    warnings = key_warnings(key)
    assert any("reads most like G major (probability 0.85 against 0.12), the dominant key of C major" in w
               for w in warnings), warnings
    assert not any(w.startswith("key may also be") for w in warnings)  # said once, by the warning above
    plain = _model_key(p, 0.9, 1.0, 4)
    assert plain["label"] == "G major" and not any("dominant key of" in w for w in key_warnings(plain))


def test_a_weak_profile_fit_keeps_a_home_key_where_the_model_is_clear():
    """weak_but_clear judges the model's clearest preference, not the home key's lower probability."""
    p = probabilities(G_MAJOR, 0.85, C_MAJOR, 0.12)
    assert _model_key(p, 0.5, 0.6, 4, home=C_MAJOR)["label"] == "C major"
