"""What a stranger's trial on Debian game soundtracks found in the text of a music analysis: a key named at a
tuning near half a semitone with no word of the neighbouring name, two readings of the opening's mode printed
as if they agreed, and a tempo its own tempo-change warning contradicted."""

from __future__ import annotations

import pytest

from tests.music_signals import SR, cadence
from worker.music.pipeline import analyze_music


@pytest.mark.parametrize(("cents", "word", "step"), [(47.0, "sharp", 1), (-47.0, "flat", -1)])
def test_a_tuning_near_half_a_semitone_names_the_neighbouring_key(cents, word, step):
    """lincity.ogg read F minor at +48.6 cents where librosa reads F# minor at -48: one semitone grid or the
    next, and nothing said so."""
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    y, _ = cadence(5, bars=12, cents=cents)
    near = analyze_music(y, SR)
    y, _ = cadence(5, bars=12)
    plain = analyze_music(y, SR)
    key = near["key"]
    assert key["tonic"] is not None
    other = f"{names[(names.index(key['tonic']) + step) % 12]} {key['mode']}"
    hits = [w for w in near["warnings"] if "near half a semitone" in w]
    assert hits == [f"tuning is 47 cents {word}, near half a semitone: the key may be {other} (every key and chord "
                    f"name a semitone {'up' if step > 0 else 'down'})"]
    assert key["confidence"] < plain["key"]["confidence"]  # the name is less sure than at A440
    assert not any("half a semitone" in w for w in plain["warnings"])
