"""Music that names no one key is told which keys it moves between (worker/music/key_timeline.py read_timeline).

A stranger's 6-minute game track (freedroidrpg-data's Bleostrada.ogg) read "no key: the sound is pitched but names
no one key (speech, or harmony that moves between keys ...)" with `changes: []`: the key timeline ran only where a
key was named, so the one case the note speaks of never got it. Known answer: 24 s each of I-IV-V-I in C, E and G#
major (keys a major third apart, whose sum fits no key) name no key, and the timeline finds the three and when.
"""

from __future__ import annotations

import numpy as np

from tests.music_signals import SR, cadences_in
from worker.music.pipeline import analyze_music
from worker.music.summary import format_summary

SECTION_SECONDS = 24.0


def test_music_in_no_one_key_lists_the_keys_it_moves_between():
    y = np.concatenate([bar for tonic in (0, 4, 8) for bar in cadences_in(tonic)])
    res = analyze_music((0.5 * y / np.abs(y).max()).astype(np.float32), SR)
    key = res["key"]
    assert key["tonic"] is None and key["label"] == "no key"
    assert [c["label"] for c in key["changes"]] == ["C major", "E major", "G# major"], key["changes"]
    assert key["changes"][0]["time"] == 0.0
    for change, start in zip(key["changes"][1:], (SECTION_SECONDS, 2 * SECTION_SECONDS), strict=True):
        assert abs(change["time"] - start) < 4.0, key["changes"]  # the 12 s windows' hop and smoothing
    [moves] = [w for w in res["warnings"] if w.startswith("no one key:")]
    assert moves.startswith("no one key: the music moves between ") and "C major" in moves \
        and "E major" in moves and "G# major" in moves and moves.endswith("the key changes say when")
    text = format_summary(res)
    assert "starts in C major" in text and "modulates to E major" in text and "modulates to G# major" in text


def test_a_named_key_still_gets_its_timeline_and_a_short_keyless_clip_none():
    """The path for a named key is as before (a key and no modulation: no changes), and music under
    KEY_CHANGES_MIN_SECONDS gets no timeline, key or none."""
    one_key = np.concatenate(cadences_in(7, bars=36))
    res = analyze_music((0.5 * one_key / np.abs(one_key).max()).astype(np.float32), SR)
    assert res["key"]["label"] == "G major" and res["key"]["changes"] == []
    short = np.concatenate([bar for tonic in (0, 4, 8) for bar in cadences_in(tonic, bars=6)])  # 36 s
    res = analyze_music((0.5 * short / np.abs(short).max()).astype(np.float32), SR)
    assert res["key"]["tonic"] is None and res["key"]["changes"] == []
    assert not any(w.startswith("no one key:") for w in res["warnings"])
