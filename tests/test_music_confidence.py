"""Warnings, confidences, the key timeline's agreement, the beat network's chunking, the MIDI chord voicing."""

from __future__ import annotations

import numpy as np
import pytest

from worker.music import beatnet
from worker.music.beats import tempo_warnings
from worker.music.key import key_warnings
from worker.music.key_timeline import reconcile_with_changes
from worker.music.midi import chord_pitches
from worker.music.onsets import FPS
from worker.music.pipeline import time_signature
from worker.music.rhythm import MAX_BPM


def _comb(peaks: dict[float, float]) -> np.ndarray:
    """A comb-score array over estimate_tempo's candidate lags with peaks at the given tempi (BPM -> height)."""
    first = max(int(FPS * 60.0 / MAX_BPM), 2)
    lags = np.arange(first, int(FPS * 60.0 / 40.0))
    total = np.zeros(len(lags))
    for bpm, height in peaks.items():
        total = np.maximum(total, height * np.exp(-0.5 * ((lags - FPS * 60.0 / bpm) / 1.5) ** 2))
    return total


def test_a_close_double_tempo_is_a_warning_and_a_clear_winner_is_not():
    assert tempo_warnings(_comb({100.0: 1.0, 200.0: 0.9}), 100.0) == ["tempo may be double or half (200 BPM also fits)"]
    assert tempo_warnings(_comb({90.0: 1.0, 135.0: 0.85}), 90.0) == ["tempo may be 3/2 or 2/3 (135 BPM also fits)"]
    assert tempo_warnings(_comb({100.0: 1.0, 200.0: 0.3, 150.0: 0.2}), 100.0) == []



def test_a_slow_tempo_says_the_beat_may_be_faster():
    """A stranger's 52 and 41 BPM (tracks librosa reads at 120 and 144) came with no word of doubt."""
    assert tempo_warnings(_comb({52.0: 1.0, 150.0: 0.5}), 52.0) == [
        "slow tempo (52 BPM): a bar or half bar may have been read as the beat, which may be 104, 156 or 208 BPM"]
    assert tempo_warnings(_comb({41.0: 1.0}), 41.0)[0].endswith("82, 123 or 164 BPM")
    assert tempo_warnings(_comb({60.0: 1.0, 120.0: 0.2}), 60.0) == []  # the slowest labelled tempi: no warning
    # where double already fits, that warning says it
    assert tempo_warnings(_comb({50.0: 1.0, 100.0: 0.9}), 50.0) == ["tempo may be double or half (100 BPM also fits)"]


def _loose_pulse(jitter: float, *, seconds: int = 40, sr: int = 22050) -> np.ndarray:
    """Notes of C major on a 100 BPM grid, three in ten left out, each off the grid by `jitter` of a beat (sd)."""
    rng = np.random.default_rng(1)
    y = np.zeros(seconds * sr, np.float32)
    tt = np.arange(int(1.5 * sr)) / sr
    for k in range(int((seconds - 2) / 0.6)):
        if rng.random() < 0.3:
            continue
        start = int(max(0.0, k * 0.6 + rng.normal(0, jitter * 0.6)) * sr)
        hz = 440 * 2 ** ((rng.choice([60, 62, 64, 65, 67, 69, 71, 72]) - 69) / 12)
        y[start:start + tt.size] += (0.2 * np.sin(2 * np.pi * hz * tt) * np.exp(-3 * tt))[: y.size - start]
    return y


def test_a_tempo_read_from_a_weak_pulse_says_so_and_a_steady_one_does_not():
    """A stranger's ambient and rubato game tracks got 136 and 135 BPM with beat grids onsets did not support, and no
    word of doubt (tempo confidence 0.12 and 0.15)."""
    from worker.music.options import PitchOptions
    from worker.music.pipeline import analyze_music

    options = PitchOptions(include=("tempo", "beats"))
    loose = analyze_music(_loose_pulse(0.15), 22050, options=options)
    assert loose["tempo_bpm"] is not None and loose["tempo_confidence"] < 0.2
    assert any(w.startswith("weak beat (tempo confidence 0.") for w in loose["warnings"]), loose["warnings"]
    steady = analyze_music(_loose_pulse(0.0), 22050, options=options)
    assert abs(steady["tempo_bpm"] - 100) < 2 and steady["tempo_confidence"] >= 0.2
    assert not any(w.startswith("weak beat") for w in steady["warnings"]), steady["warnings"]


def _key(label: str, index: int, changes: list[tuple[float, str]]) -> dict:
    return {"tonic": label.split()[0], "mode": label.split()[1], "label": label, "index": index, "score": 0.6,
            "confidence": 0.7, "candidates": [{"tonic": "A", "mode": "major", "label": "A major", "score": 0.3}],
            "changes": [{"time": t, "label": lab} for t, lab in changes],
            "_scores": {lab: 0.0 for _, lab in changes} | {"A major": 0.3, label: 0.6}}


def test_the_global_key_follows_the_segment_that_covers_most_of_the_track():
    key = _key("B minor", 23, [(0.0, "B minor"), (60.0, "A major")])  # A major holds 100 of 160 s
    warnings = reconcile_with_changes(key, 160.0)
    assert key["label"] == "A major" and key["index"] == 9 and key["score"] == 0.3
    assert key["candidates"][0]["label"] == "B minor"
    assert len(warnings) == 1 and "A major" in warnings[0] and "62%" in warnings[0]


def test_a_global_key_that_holds_most_of_the_track_stays_and_a_split_track_says_so():
    key = _key("B minor", 23, [(0.0, "B minor"), (100.0, "A major")])
    assert reconcile_with_changes(key, 160.0) == [] and key["label"] == "B minor"
    key = _key("C major", 0, [(0.0, "B minor"), (50.0, "A major"), (100.0, "C major")])  # 31 / 31 / 38 %
    warnings = reconcile_with_changes(key, 160.0)
    assert key["label"] == "C major" and warnings == []


def test_a_key_the_timeline_set_has_its_own_confidence_and_no_near_tie_warning():
    """The key model gives B minor 0.6 and A major 0.35 (a near tie), the timeline holds A major for 62 %: A major
    is reported with the model's confidence in it, and one warning says what happened (not a second "key may also
    be B minor (0.60 against 0.35)")."""
    key = _key("B minor", 23, [(0.0, "B minor"), (60.0, "A major")])
    key.update(_probabilities=True, score=0.6, confidence=0.54, _tonal=0.9,
               candidates=[{"tonic": "A", "mode": "major", "label": "A major", "score": 0.35}],
               _scores={"B minor": 0.6, "A major": 0.35, "D major": 0.05})
    warnings = reconcile_with_changes(key, 160.0)
    assert key["label"] == "A major" and key["candidates"][0]["label"] == "B minor"
    assert key["score"] == 0.35
    assert key["confidence"] == 0.315  # the model's probability of A major times how tonal: not B minor's 0.54
    assert warnings == ["global key set to A major, the key of 62% of the track (the whole-track key model "
                        "preferred B minor)"]
    assert key_warnings(key) == ["key uncertain (confidence 0.32)"]


def test_the_timeline_does_not_overrule_a_key_model_that_rules_its_key_out():
    """The key model gives B minor 0.99 and A major 0.0002, the timeline (profile correlations on 12 s windows)
    holds A major for 62 %: B minor stays, at its own confidence, and the warning says why the two differ."""
    key = _key("B minor", 23, [(0.0, "B minor"), (60.0, "A major")])
    key.update(_probabilities=True, score=0.99, confidence=0.89, _tonal=0.9,
               candidates=[{"tonic": "D", "mode": "major", "label": "D major", "score": 0.01}],
               _scores={"B minor": 0.99, "D major": 0.01, "A major": 0.0002})
    warnings = reconcile_with_changes(key, 160.0)
    assert (key["label"], key["index"], key["score"], key["confidence"]) == ("B minor", 23, 0.99, 0.89)
    assert warnings == ["the key moves: A major covers 62% of the track, B minor 38%; the whole-track key model "
                        "keeps B minor (probability 0.99 against 0.00)"]
    assert key_warnings(key) == []


def test_key_warnings_say_no_key_low_confidence_and_near_ties():
    assert key_warnings({"index": None}) == ["no clear key"]
    assert key_warnings({"index": None}, silent=True) == []
    key = {"index": 0, "label": "C major", "confidence": 0.2, "score": 0.5, "_probabilities": True,
           "candidates": [{"label": "A minor", "score": 0.4}]}
    assert key_warnings(key) == ["key uncertain (confidence 0.20)",
                                 "key may also be A minor (probability 0.40 against 0.50 for C major)"]
    key.update(confidence=0.347, candidates=[{"label": "A minor", "score": 0.1}])  # not "0.35", the threshold
    assert key_warnings(key) == ["key uncertain (confidence 0.347)"]
    key.update(confidence=0.8)
    assert key_warnings(key) == []
    key.update(label="C major", opening={"label": "G major", "score": 0.81})
    assert key_warnings(key) == ["the opening reads as G major (probability 0.81), the whole track as C major: the "
                                 "music may begin away from its key, or modulate"]
    key["label"] = "G major"  # the timeline made the opening's key the global one: nothing left to say
    assert key_warnings(key) == []


def test_the_opening_reading_is_as_sure_as_the_opening_is_tonal():
    """Two strangers' Wesnoth openings (drums, no chord) read "C minor (probability 0.98)": the key model, fitted on
    whole pieces, is that sure of 12 s of anything. The confidence is the probability times how tonal the opening
    is, as the whole track's is, and an opening with no harmony to read gets no reading."""
    from worker.music.key import WEAK_TONAL_FIT, opening_key

    probabilities = np.full(24, 0.02 / 23)
    probabilities[12] = 0.98  # C minor
    reading = opening_key(probabilities, 4, fit=0.55, tonal=0.41)
    assert reading == {"tonic": "C", "mode": "minor", "label": "C minor", "score": 0.98, "confidence": 0.402}
    assert opening_key(probabilities, 4, fit=WEAK_TONAL_FIT - 0.02, tonal=0.0) is None
    assert opening_key(probabilities, 12, fit=0.9, tonal=1.0) is None  # the whole track's own key
    key = {"index": 4, "label": "E minor", "confidence": 0.7, "score": 0.7, "candidates": [], "opening": reading}
    assert key_warnings(key) == ["the opening reads as C minor (confidence 0.40), the whole track as E minor: the "
                                 "music may begin away from its key, or modulate"]


@pytest.mark.parametrize("beats,compound,expected", [(4, False, "4/4"), (3, False, "3/4"), (2, True, "6/8"),
                                                      (3, True, "9/8"), (4, True, "12/8")])
def test_time_signatures(beats, compound, expected):
    assert time_signature(beats, compound=compound) == expected


def test_beat_network_in_chunks_equals_one_pass(monkeypatch):
    weights = beatnet.load_weights()
    if weights is None:
        pytest.fail("worker/music/beat_tcn.npz is missing: run bench/beat_train.py")
    logmel = np.abs(np.random.default_rng(3).standard_normal((48, 3000))).astype(np.float32)
    whole = beatnet.activations(logmel, weights)
    monkeypatch.setattr(beatnet, "CHUNK_FRAMES", 700)  # a smaller chunk than the default, same code path
    chunked = beatnet.activations(logmel, weights)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    assert whole.shape == (3, 3000) and np.all((whole >= 0) & (whole <= 1))


def test_chord_labels_become_close_voicings():
    assert chord_pitches("C:maj") == [55, 60, 64]  # within the octave from G3
    assert chord_pitches("A:min") == [57, 60, 64]
    assert chord_pitches("G:7") == [55, 59, 62, 65]
    assert chord_pitches("N") == [] and chord_pitches("X:sus4") == []


def test_the_report_puts_the_runners_up_beside_the_keys_own_score():
    """A stranger's report: "Key: A minor (confidence 0.44)" and "key may also be F major (0.31 against 0.61)",
    the 0.61 shown nowhere; and runners-up 0.00 under a confidence of 0.81 alone."""
    from worker.music.summary import format_summary

    key = {"tonic": "A", "mode": "minor", "label": "A minor", "confidence": 0.44, "score": 0.61,
           "candidates": [{"label": "F major", "score": 0.31}, {"label": "C major", "score": 0.05}]}
    text = format_summary({"filename": "march.wav", "duration_seconds": 60.0, "warnings": [], "key": key})
    lines = text.splitlines()
    assert lines[lines.index("Key: A minor (confidence 0.44)") + 1] == \
        "  score 0.61 (the key model's; the confidence also weighs how tonal and how long the audio is); " \
        "runners-up: F major 0.31, C major 0.05", text
    none = {"tonic": None, "mode": None, "label": None, "confidence": 0.0, "note": "x", "candidates": key["candidates"]}
    text = format_summary({"filename": "splash.wav", "duration_seconds": 1.0, "warnings": [], "key": none})
    assert "  nearest keys, none clear enough: F major 0.31, C major 0.05" in text.splitlines(), text


def test_a_key_from_a_second_of_audio_is_called_a_guess(tmp_path):
    """A stranger's 0.44 s voice clip was "C major (confidence 0.59)". Under SHORT_FOR_A_KEY_SECONDS the confidence
    shrinks in proportion and a warning says why; the same chords for 8 s keep theirs."""
    from tests.audio_synth import SR, write
    from worker.music.options import PitchOptions
    from worker.music.pipeline import SHORT_FOR_A_KEY_SECONDS, run_pitch

    def chords(seconds: float) -> np.ndarray:
        t = np.arange(int(seconds * SR)) / SR
        return sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0, 130.81)).astype(np.float32)

    short = run_pitch(audio_path=write(tmp_path / "short.wav", chords(1.0)), results_dir=tmp_path,
                      options=PitchOptions())
    long = run_pitch(audio_path=write(tmp_path / "long.wav", chords(8.0)), results_dir=tmp_path,
                     options=PitchOptions())
    assert long["key"]["tonic"] and not any("too little to tell a key" in w for w in long["warnings"])
    assert short["key"]["tonic"] == long["key"]["tonic"]  # the same chords: the same key, far less sure
    assert short["key"]["confidence"] <= 1.0 / SHORT_FOR_A_KEY_SECONDS < long["key"]["confidence"]
    assert any(w.startswith("the key is read from 1.0 s of audio") for w in short["warnings"]), short["warnings"]


@pytest.mark.parametrize("seconds", [20.0, 240.0])
def test_the_picture_title_with_its_warnings_stays_inside_the_picture(seconds):
    """A stranger's 10-inch picture of a short track had its title's two warnings run off both edges."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from worker.music.plot import MAX_TITLE_LINES, chromagram_figure

    title = ("a track with a fairly long file name.ogg  |  E minor (0.31)  |  120 BPM (0.19)  |  4/4\nwarning: "
             + "; ".join(["weak beat (tempo confidence 0.19)", "key may also be G major (probability 0.40 against "
                          "0.61 for E minor)", "the opening reads as D# major (probability 1.00), the whole track "
                          "as E minor: the music may begin away from its key, or modulate"] * 3))
    fig = chromagram_figure(chroma=np.random.default_rng(0).random((12, 400)), frame_seconds=seconds / 400,
                            duration=seconds, chords=[], beat_times=[], downbeat_times=[], title=title)
    renderer = FigureCanvasAgg(fig).get_renderer()
    box, picture = fig.axes[0].title.get_window_extent(renderer), fig.bbox
    assert picture.x0 <= box.x0 and box.x1 <= picture.x1 and box.y1 <= picture.y1, (box, picture)
    shown = fig.axes[0].get_title()
    assert shown.count("\n") + 1 <= MAX_TITLE_LINES and "E minor (0.31)" in shown
    assert shown.endswith("…") == (seconds < 60)  # the narrow picture cannot show all nine warnings


def test_silence_around_the_music_is_not_part_of_the_key_timeline():
    """A stranger's 45 s of digital silence before 60 s of music made the track long enough for a key timeline,
    and the silence counted in its shares ("F major covers 55% of the track" for 13 s of music). The timeline
    reads the music alone, and the same 48 s of music with or without the silence reads the same."""
    from tests.music_signals import SR, cadence
    from worker.music.key_timeline import key_coverage
    from worker.music.pipeline import analyze_music

    music = np.concatenate([cadence(7, bars=12)[0], cadence(8, bars=12)[0]])  # G major, then G# major: 48 s
    alone = analyze_music(music, SR)
    padded = analyze_music(np.concatenate([np.zeros(45 * SR, dtype=music.dtype), music]), SR)
    assert alone["key"]["label"] == padded["key"]["label"]
    assert alone["key"]["changes"] == padded["key"]["changes"] == []  # 48 s of music: one key, as the README says
    # the silence had counted: "global key set to G major, the key of 72% of the track"
    assert not any("key moves" in w or "global key set" in w for w in padded["warnings"]), padded["warnings"]
    # the shares are of the music from `start`: a key holding from 0 s over 45 s of silence and 10 s of music
    changes = [{"time": 0.0, "label": "A minor"}, {"time": 55.0, "label": "C major"}]
    assert key_coverage(changes, 105.0, start=45.0) == pytest.approx({"A minor": 10 / 60, "C major": 50 / 60})


def _pulses(bpm: float, *, seconds: float = 40.0, accent_every: int = 1) -> np.ndarray:
    """A beat activation (at FPS) with a peak on every beat at `bpm`; every `accent_every`-th beat full height, the
    others 0.8 (a subdivision the network hears as beats, a little weaker)."""
    act = np.full(int(seconds * FPS), 0.02)
    for n, t in enumerate(np.arange(0.5, seconds - 0.5, 60.0 / bpm)):
        act[int(round(t * FPS))] = 1.0 if n % accent_every == 0 else 0.8
    return act


def test_a_slow_reading_of_a_faster_pulse_is_subdivided_and_a_slow_pulse_is_kept():
    from worker.music.beats import subdivided_tempo

    # beats every 0.385 s, every third accented, read as the 52 BPM bar: the faster grid keeps ~0.8 of it
    assert subdivided_tempo(_pulses(156.0, accent_every=3), 52.0) == pytest.approx(156.0)
    assert subdivided_tempo(_pulses(104.0, accent_every=2), 52.0) == pytest.approx(104.0)
    # a pulse at 52 BPM with nothing between: kept (a faster grid's extra beats sit on nothing)
    assert subdivided_tempo(_pulses(52.0), 52.0) == pytest.approx(52.0)
    assert subdivided_tempo(_pulses(120.0), 120.0) == 120.0  # not slow: never touched


def test_a_timeline_in_the_relative_key_is_named_so():
    """funnyboat's JDruid track: the key model gives C minor 0.98, its timeline reads D# major for 68 %: the warning
    "D# major covers 68% of the track, C minor 0%" beside "C minor, 92 % sure" read as the key being wrong, where
    the two are one scale; it now says they are relative keys. A pair that is not one says nothing more."""
    key = _key("C minor", 12, [(0.0, "D# major"), (43.1, "A# major"), (102.6, "D# major")])
    key.update(_probabilities=True, score=0.98, confidence=0.92, _tonal=0.94,
               _scores={"C minor": 0.98, "G minor": 0.01, "D# major": 0.004, "A# major": 0.001})
    assert reconcile_with_changes(key, 184.9) == [
        "the key moves: D# major covers 68% of the track, C minor 0%; the whole-track key model keeps C minor "
        "(probability 0.98 against 0.00); D# major is C minor's relative major (the same notes)"]
    key = _key("B minor", 23, [(0.0, "B minor"), (60.0, "A major")])
    key.update(_probabilities=True, score=0.99, _scores={"B minor": 0.99, "A major": 0.0002})
    assert not reconcile_with_changes(key, 160.0)[0].endswith("(the same notes)")
