"""What a stranger's trial on Debian game soundtracks found in the text of a music analysis: a key named at a
tuning near half a semitone with no word of the neighbouring name, two readings of the opening's mode printed
as if they agreed, and a tempo its own tempo-change warning contradicted."""

from __future__ import annotations

import pytest

from tests.music_signals import SR, cadence
from worker.music.key import key_warnings
from worker.music.pipeline import analyze_music
from worker.music.summary import format_summary


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


# freezingpoint.ogg's key as analysed (extremetuxracer-data): the key model reads its first 12 s as A minor, the
# key timeline's first segment (0-16.4 s) as A major
FREEZINGPOINT_KEY = {
    "tonic": "C#", "mode": "minor", "label": "C# minor", "index": 13, "confidence": 0.513, "score": 0.5127,
    "candidates": [{"tonic": "E", "mode": "major", "label": "E major", "score": 0.2287}],
    "changes": [{"time": 0.0, "tonic": "A", "mode": "major", "label": "A major"},
                {"time": 16.39, "tonic": "C#", "mode": "minor", "label": "C# minor"}],
    "opening": {"tonic": "A", "mode": "minor", "label": "A minor", "score": 0.6748, "confidence": 0.606},
    "_probabilities": True,
}


def test_two_readings_of_the_opening_that_disagree_say_so():
    """freezingpoint.ogg's .txt read "the first 12 s alone read A minor" and three lines later "starts in A major"
    as if both held: the key model and the key timeline read the opening, and they disagreed."""
    key = dict(FREEZINGPOINT_KEY)
    warnings = key_warnings(key)
    opening = [w for w in warnings if w.startswith("the opening reads as A minor")]
    assert len(opening) == 1 and opening[0].endswith(
        "; the key timeline (12 s windows, profile fit) reads 0.0-16.4 s as A major, the other mode: the two "
        "readings of the opening disagree")
    text = format_summary({"filename": "freezingpoint.ogg", "duration_seconds": 96.0, "warnings": warnings,
                           "key": {k: v for k, v in key.items() if not k.startswith("_")}})
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "the first 12 s alone read A minor" in line)
    assert "the two readings of the opening disagree (the warning quotes the key model, the lines below are the " \
           "timeline)" in lines[at]
    assert lines[at + 1:at + 3] == ["  starts in A major", "  modulates to C# minor at 16.4 s"]


def test_readings_of_the_opening_that_agree_print_as_before():
    key = dict(FREEZINGPOINT_KEY, changes=[dict(FREEZINGPOINT_KEY["changes"][0], mode="minor", label="A minor"),
                                           FREEZINGPOINT_KEY["changes"][1]])
    assert not any("disagree" in w for w in key_warnings(key))
    text = format_summary({"filename": "x.ogg", "duration_seconds": 96.0, "warnings": [], "key": key})
    assert "  the first 12 s alone read A minor (0.61, the key model)\n  starts in A minor\n" in text
