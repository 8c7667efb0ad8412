"""Long digital silences before or inside the music (worker/music/silence_gaps.py): no beats, bars or MIDI beat
clicks inside them, the beats either side kept, and the tempo confidence read on the music alone."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from tests.music_signals import SR, drum_loop, midi_hz, tone
from worker.music.midi import write_analysis_midi
from worker.music.options import PitchOptions
from worker.music.pipeline import analyze_music

BPM = 100.0
GROOVE_SECONDS = 30.0
GAP_SECONDS = 25.0
MARGIN = 0.5  # s: a beat this close to the silence's edges belongs to the music beside it


def groove(seed: int = 0) -> np.ndarray:
    """Kick, snare and hi-hat with a bass line on every beat (an A minor - F - C - G bar at a time)."""
    drums = drum_loop(BPM, GROOVE_SECONDS, seed=seed)
    beat = 60.0 / BPM
    bass = np.zeros_like(drums)
    for i in range(int(GROOVE_SECONDS / beat) - 1):
        note = tone(midi_hz(45 + (0, -4, 3, -2)[(i // 4) % 4]), 0.9 * beat, harmonics=4)
        a = int(i * beat * SR)
        bass[a : a + len(note)] += note[: len(bass) - a]
    y = drums + 0.3 * bass / np.abs(bass).max()
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), dtype=np.float32)


def rhythm(y: np.ndarray) -> dict:
    return analyze_music(y, SR, options=PitchOptions(include=("tempo", "beats")))


def loose_groove(seed: int = 0, *, keep: float = 0.5, jitter: float = 0.03) -> np.ndarray:
    """A weak beat (tempo confidence ~0.15): a kick on about half the beats, each up to `jitter` s off the grid and
    at a random level, under a legato pad whose chords change at random times."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(GROOVE_SECONDS * SR), dtype=np.float32)
    t = np.arange(int(0.25 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-t / 0.03)) * t) * np.exp(-t / 0.08)
    for beat in np.arange(0.0, GROOVE_SECONDS - 1, 60.0 / BPM):
        if rng.random() < keep:
            a = max(0, int((beat + rng.uniform(-jitter, jitter)) * SR))
            y[a : a + len(kick)] += rng.uniform(0.4, 1.0) * kick
    start = 0.0
    while start < GROOVE_SECONDS - 1:
        held = rng.uniform(1.0, 3.0)
        for m in rng.choice([57, 60, 64, 67, 69, 72], 3, replace=False):
            note = tone(midi_hz(m), min(held, GROOVE_SECONDS - start), harmonics=5)
            a = int(start * SR)
            y[a : a + len(note)] += 0.15 * note[: len(y) - a]
        start += held
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def test_a_silence_between_two_grooves_gets_no_beats_or_bars_and_the_grooves_keep_theirs():
    result = rhythm(np.concatenate([groove(0), silence(GAP_SECONDS), groove(1)]))
    beats, downs = np.array(result["beat_times"]), np.array(result["downbeat_times"])
    lo, hi = GROOVE_SECONDS + MARGIN, GROOVE_SECONDS + GAP_SECONDS - MARGIN
    assert not np.any((beats > lo) & (beats < hi)), beats[(beats > lo) & (beats < hi)]
    assert not np.any((downs > lo) & (downs < hi))
    per_groove = GROOVE_SECONDS * BPM / 60.0  # 50 beats
    before, after = beats[beats < GROOVE_SECONDS], beats[beats > GROOVE_SECONDS + GAP_SECONDS]
    assert len(before) >= 0.9 * per_groove and len(after) >= 0.9 * per_groove
    assert result["tempo_bpm"] == pytest.approx(BPM, rel=0.03)
    assert np.median(np.diff(after)) == pytest.approx(60.0 / BPM, rel=0.03)
    assert not any(s["start"] < hi and s["end"] > lo and s["bpm"] < 10 for s in result["tempo_changes"])


def test_leading_silence_does_not_raise_a_weak_beats_tempo_confidence():
    alone = rhythm(loose_groove())
    late = rhythm(np.concatenate([silence(30.0), loose_groove()]))  # before: 0.15 alone, 0.19 after the silence
    assert alone["tempo_bpm"] == pytest.approx(BPM, rel=0.02)
    assert late["tempo_bpm"] == pytest.approx(alone["tempo_bpm"], rel=0.01)
    assert abs(late["tempo_confidence"] - alone["tempo_confidence"]) <= 0.03, (late["tempo_confidence"],
                                                                              alone["tempo_confidence"])
    assert not np.any(np.array(late["beat_times"]) < 30.0 - MARGIN)


def test_the_midi_tempo_map_counts_beats_through_a_silence_with_no_clicks_in_it(tmp_path):
    """Beats with a 25 s gap (as the analysis now gives them): one tempo for the gap had been 25 s a beat, which no
    MIDI tempo holds (mido: "attribute must be in range 0..16777215")."""
    beat = 60.0 / BPM
    beats = [float(t) for t in np.arange(0.3, GROOVE_SECONDS, beat)]
    beats += [float(t) for t in np.arange(beats[-1] + GAP_SECONDS, beats[-1] + GAP_SECONDS + GROOVE_SECONDS, beat)]
    path = tmp_path / "gap.mid"
    write_analysis_midi(path, notes=None, beat_times=beats, downbeat_times=beats[::4], tempo_bpm=BPM,
                        time_signature="4/4")
    pm = pretty_midi.PrettyMIDI(str(path))
    clicks = np.array(sorted(n.start for i in pm.instruments if i.is_drum for n in i.notes))
    assert np.allclose(clicks, beats, atol=0.002)
    grid = pm.get_beats()  # the tempo map's beats keep the music's tempo through the silence
    inside = grid[(grid > GROOVE_SECONDS + 1) & (grid < GROOVE_SECONDS + GAP_SECONDS - 1)]
    assert len(inside) > 0 and np.median(np.diff(inside)) == pytest.approx(beat, rel=0.05)
