"""What a stranger's trial on Debian game soundtracks found in the text of a music analysis: a key named at a
tuning near half a semitone with no word of the neighbouring name, two readings of the opening's mode printed
as if they agreed, and a tempo its own tempo-change warning contradicted."""

from __future__ import annotations

import numpy as np
import pytest

from tests.music_signals import SR, cadence, click_track
from worker.music.key import key_warnings
from worker.music.options import PitchOptions
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


def _clicks_at(pattern: list[tuple[float, float]]) -> tuple[np.ndarray, list[float]]:
    """Decaying 1 kHz clicks at each (BPM, seconds) of `pattern` in turn, from 0.5 s: (audio, where each starts)."""
    t, times, starts = 0.5, [], []
    for bpm, seconds in pattern:
        starts.append(t)
        end = t + seconds
        while t < end:
            times.append(t)
            t += 60.0 / bpm
    y = np.zeros(int((t + 1.0) * SR), dtype=np.float32)
    click = (np.sin(2 * np.pi * 1000 * np.arange(400) / SR) * np.exp(-np.arange(400) / 60)).astype(np.float32)
    for t in times:
        y[int(t * SR):int(t * SR) + 400] += click
    return y, starts


RHYTHM = PitchOptions(include=("tempo", "beats"))


def test_beats_that_go_back_and_forth_name_their_stretches_beside_the_tempo_given():
    """credits1-cp.ogg read 93.4 BPM beside "tempo changes: about 92 BPM at the start, 71 BPM at the end": its beats
    go back and forth between 93 and 70 BPM, at 70 over most of it. Here 8 s at 96 BPM and 8 s at 72, four times."""
    y, starts = _clicks_at([(96.0, 8.0), (72.0, 8.0)] * 4)
    res = analyze_music(y, SR, options=RHYTHM)
    assert abs(res["tempo_bpm"] - 96.0) < 2.0
    stretches = res["tempo_changes"]
    assert [round(s["bpm"] / 24) * 24 for s in stretches] == [96, 72] * 4
    assert all(abs(s["start"] - t) < 1.7 for s, t in zip(stretches, starts, strict=True))  # within 2 beats
    changes = [w for w in res["warnings"] if w.startswith("tempo changes")]
    assert len(changes) == 1
    spans = ", ".join(f"{s['start']:.1f}-{s['end']:.1f}" for s in stretches[1::2])
    assert f"the beats run at about 72 BPM at {spans} s (" in changes[0]
    assert "and at the tempo given, 96 BPM, elsewhere" in changes[0]
    assert "72 is 3/4 of 96 and the two alternate" in changes[0]
    kept = sum(s["end"] - s["start"] for s in stretches[::2]) / (stretches[-1]["end"] - stretches[0]["start"])
    assert f"; the beats keep it over {kept:.0%} of their span (see \"tempo changes\")" in format_summary(res)


def test_a_tempo_step_names_where_the_tempo_given_ends():
    res = analyze_music(_clicks_at([(120.0, 30.0), (90.0, 30.0)])[0], SR, options=RHYTHM)
    assert abs(res["tempo_bpm"] - 120.0) < 1.0
    first, second = res["tempo_changes"]
    assert abs(first["bpm"] - 120.0) < 1.0 and abs(second["bpm"] - 90.0) < 2.0 and abs(second["start"] - 30.5) < 1.0
    assert [w for w in res["warnings"] if w.startswith("tempo changes")] == [
        f"tempo changes: 120 BPM (the tempo given) until {second['start']:.1f} s, then about "
        f"{second['bpm']:.0f} BPM to the end"]


def test_a_steady_beat_has_no_tempo_changes():
    res = analyze_music(click_track(120.0, 30.0), SR, options=RHYTHM)
    assert res["tempo_changes"] == [] and not any(w.startswith("tempo changes") for w in res["warnings"])
    assert "keep it over" not in format_summary(res)


def test_an_opening_whose_timeline_key_is_the_whole_tracks_says_so():
    """introzik.ogg: the warning read "the whole track as A major ... the key timeline ... reads 0.0-111.5 s as A
    major, another key", as if the timeline contradicted the global key it agrees with (it is another key than the
    opening's reading)."""
    key = {**FREEZINGPOINT_KEY, "tonic": "A", "mode": "major", "label": "A major",
           "changes": [{"time": 0.0, "tonic": "A", "mode": "major", "label": "A major"},
                       {"time": 111.5, "tonic": "E", "mode": "major", "label": "E major"}],
           "opening": {"tonic": "F#", "mode": "minor", "label": "F# minor", "score": 0.7, "confidence": 0.5}}
    opening = [w for w in key_warnings(key) if w.startswith("the opening reads as F# minor")]
    assert len(opening) == 1 and opening[0].endswith(
        "; the key timeline (12 s windows, profile fit) reads 0.0-111.5 s as A major, the whole track's key: the two "
        "readings of the opening disagree")
