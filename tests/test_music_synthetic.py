"""Music analysis on synthetic signals with known answers."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from tests.music_signals import SR, cadence, click_track, sine_melody
from worker.music.options import PitchOptions
from worker.music.pipeline import analyze_music
from worker.music.summary import format_summary


@pytest.mark.parametrize("tonic,name", [(0, "C"), (9, "A")])
def test_major_cadence_gives_its_key_and_chords(tonic, name):
    y, labels = cadence(tonic)
    res = analyze_music(y, SR)
    assert (res["key"]["tonic"], res["key"]["mode"]) == (name, "major")
    assert res["key"]["confidence"] > 0.5
    assert abs(res["tuning_cents"]) < 5
    ref_iv = np.array([[a, b] for a, b, _ in labels])
    est_iv = np.array([[c["start"], c["end"]] for c in res["chords"]])
    est_iv, est_lab = mir_eval.util.adjust_intervals(est_iv, [c["label"] for c in res["chords"]],
                                                     0.0, ref_iv.max(), "N", "N")
    scores = mir_eval.chord.evaluate(ref_iv, [lab for *_, lab in labels], est_iv, est_lab)
    assert scores["root"] > 0.8, res["chords"]


def test_detuned_cadence_reports_the_tuning_and_keeps_the_key():
    y, _ = cadence(2, cents=30.0)
    res = analyze_music(y, SR, options=PitchOptions(include=("key", "tuning")))
    assert abs(res["tuning_cents"] - 30.0) < 6
    assert res["key"]["label"] == "D major"
    assert set(res) == {"key", "tuning_cents", "duration_seconds", "warnings"}


def test_modulation_is_reported_as_a_key_timeline():
    first, _ = cadence(0, bars=18)  # 36 s of C major
    second, _ = cadence(9, bars=18)  # then 36 s of A major
    res = analyze_music(np.concatenate([first, second]), SR, options=PitchOptions(include=("key",)))
    changes = res["key"]["changes"]
    assert [c["label"] for c in changes] == ["C major", "A major"]
    assert changes[0]["time"] == 0.0 and abs(changes[1]["time"] - 36.0) < 4.0


def test_an_opening_in_another_key_is_reported_beside_the_whole_tracks_key():
    """16 s of A major, then 40 s of F major: the whole track reads F major, its opening alone A major, and the
    result says so (where that happens the whole track's key is right less often: bench/key_opening.py)."""
    opening, _ = cadence(9, bars=8)
    rest, _ = cadence(5, bars=20)
    res = analyze_music(np.concatenate([opening, rest]), SR, options=PitchOptions(include=("key",)))
    key = res["key"]
    assert key["label"] == "F major"
    assert (key["opening"]["label"], key["opening"]["tonic"], key["opening"]["mode"]) == ("A major", "A", "major")
    assert key["opening"]["score"] >= 0.5
    assert any(w.startswith("the opening reads as A major") for w in res["warnings"]), res["warnings"]
    assert "the first 12 s alone read A major" in format_summary(res)


@pytest.mark.parametrize("bars", [28, 10])  # 56 s in one key; 20 s (too short for the opening to be a part of it)
def test_no_opening_key_where_the_opening_is_the_key_or_most_of_the_track(bars):
    y, _ = cadence(5, bars=bars)
    res = analyze_music(y, SR, options=PitchOptions(include=("key",)))
    assert res["key"]["label"] == "F major" and "opening" not in res["key"]
    assert not any("opening" in w for w in res["warnings"])
    if bars == 10:  # what makes it too short: the opening would be more than half of it
        first, _ = cadence(9, bars=4)
        res = analyze_music(np.concatenate([first, y[: len(y) // 2]]), SR, options=PitchOptions(include=("key",)))
        assert "opening" not in res["key"]


def test_click_track_at_120_bpm():
    y = click_track(120.0, 20.0)
    res = analyze_music(y, SR, options=PitchOptions(include=("tempo", "beats")))
    assert res["tempo_bpm"] == pytest.approx(120.0, rel=0.02)
    ref = np.arange(0.0, 19.95, 0.5)
    f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(np.array(res["beat_times"])))
    assert f > 0.95
    assert res["time_signature"] == "4/4" and res["beats_per_bar"] == 4
    assert np.allclose(np.diff(res["downbeat_times"]), 2.0, atol=0.03)


@pytest.mark.parametrize("first", [0.5, 0.0])
def test_beats_land_on_the_attacks_of_kicks_they_were_not_trained_on(first):
    """A stranger's click tracks had every beat 20-24 ms early (the network was trained on renders labelled at MIDI
    note-on): synthetic kicks with a held chord, at known times, 100 BPM; the beats' median offset within 6 ms.
    Music that starts at 0 s has its first beat there (differenced with itself, the first frame was no onset)."""
    seconds, period = 30.0, 0.6
    t = np.arange(int(seconds * SR)) / SR
    x = np.arange(int(0.15 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-x / 0.02)) * x) * np.exp(-x / 0.08)
    y = 0.1 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63))
    hits = np.arange(first, seconds - 0.2, period)
    for h in hits:
        a = int(round(h * SR))
        y[a:a + len(kick)] += 0.8 * kick[: len(y[a:a + len(kick)])]
    res = analyze_music(y.astype(np.float32), SR, options=PitchOptions(include=("tempo", "beats")))
    beats = np.array(res["beat_times"])
    offsets = beats - hits[np.abs(beats[:, None] - hits[None, :]).argmin(axis=1)]
    assert res["tempo_bpm"] == pytest.approx(100.0, rel=0.02) and len(beats) >= len(hits) - 2
    assert abs(float(np.median(offsets))) <= 0.006, np.median(offsets)
    assert abs(beats[0] - first) <= 0.02, beats[:3]


def test_bars_start_where_the_chords_change():
    y, _ = cadence(7, bars=10, bar_seconds=2.0)
    y = y + 0.5 * click_track(120.0, len(y) / SR)
    res = analyze_music(y, SR, options=PitchOptions(include=("tempo", "beats")))
    assert res["tempo_bpm"] == pytest.approx(120.0, rel=0.02)
    assert res["time_signature"] == "4/4"
    down = np.array(res["downbeat_times"])
    assert np.max(np.abs(down - 2.0 * np.round(down / 2.0))) < 0.05, down


def test_sine_melody_gives_its_notes():
    midis = [60, 62, 64, 65, 67, 69, 71, 72, 72, 67, 64, 60]
    y, ref = sine_melody(midis)
    res = analyze_music(y, SR, options=PitchOptions(include=("melody",)))
    notes = res["melody"]["notes"]
    assert [n["midi"] for n in notes] == midis
    assert notes[0]["name"] == "C4"
    for n, (on, off, _) in zip(notes, ref, strict=True):
        assert abs(n["onset"] - on) < 0.05 and abs(n["offset"] - off) < 0.08
    f0 = res["melody"]["f0"]
    assert f0["hop_seconds"] > 0 and len(f0["hz"]) == len(f0["voiced"])
    hz = np.array(f0["hz"])[np.array(f0["voiced"])]
    assert np.all((hz > 250) & (hz < 540))
