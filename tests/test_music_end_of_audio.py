"""The last beat and the last chord of audio that stops where its next bar begins (a game's loop).

A stranger's race1-jt.ogg (extremetuxracer-data) ends where its loop starts again: the beat network's activation
rises over the last two frames towards a peak past the end. The tracker put a beat on the last frame, so the
analysis said "113 beats, 29 bars" with its 29th bar starting 0.2 ms before the end (the page drew 28), and the
chords ended with an "N" of no length (53.741-53.741)."""

from __future__ import annotations

import numpy as np

from worker.music import beats
from worker.music.chroma import HOP, SR
from worker.music.onsets import FPS
from worker.music.pipeline import analyze_music

BPM = 120.0
BEAT_SECONDS = 60.0 / BPM
CHORD_HZ = (220.0, 174.61, 196.0, 164.81)  # A, F, G, E: one triad per bar


def _activation_cut_at_a_peak(n_beats: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(3, T) beat-network-like activations at 120 BPM whose last frame is the top of one more beat's peak (the
    audio stops there), and the beat times before that one."""
    times = 0.5 + BEAT_SECONDS * np.arange(n_beats + 1)
    last = int(round(times[-1] * FPS))
    act = np.zeros((3, last + 1), dtype=np.float32)
    for t in times:
        i = int(round(t * FPS))
        act[0, i - 1 : i + 2] = (0.5, 1.0, 0.5)[: len(act[0, i - 1 : i + 2])]
    act[1, [int(round(t * FPS)) for t in times[::4]]] = 1.0
    return act, times[:-1]


def test_a_beat_peak_cut_off_by_the_end_is_no_beat():
    act, heard = _activation_cut_at_a_peak()
    duration = act.shape[1] / FPS
    res = beats.decode(act, duration=duration)
    assert len(res.beat_times) == len(heard), (res.beat_times[-3:], heard[-3:])
    np.testing.assert_allclose(res.beat_times, heard + beats.BEAT_LATENCY_SECONDS, atol=1.5 / FPS)
    assert res.downbeat_times[-1] <= res.beat_times[-1]


def _drum_loop(bars: int, *, tail_seconds: float) -> np.ndarray:
    """Kick, snare, hi-hats and a sustained triad per bar at 120 BPM, mono at the analysis rate, cut
    `tail_seconds` into the bar after `bars` (its kick and chord just begun)."""
    rng = np.random.default_rng(0)
    n = int(round((bars * 4 * BEAT_SECONDS + tail_seconds) * SR))
    y = np.zeros(n + SR, dtype=np.float32)
    t = np.arange(int(0.25 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
    snare = 0.5 * rng.standard_normal(len(t)) * np.exp(-t * 25)
    hat = 0.2 * rng.standard_normal(len(t)) * np.exp(-t * 80)
    bar_t = np.arange(int(4 * BEAT_SECONDS * SR)) / SR
    for b in range((bars + 1) * 4):
        at = int(b * BEAT_SECONDS * SR)
        if at >= n:
            break
        for x, start in ((kick if b % 2 == 0 else snare, at), (hat, at), (hat, at + int(BEAT_SECONDS / 2 * SR))):
            y[start : start + len(x)] += x[: len(y) - start]
        if b % 4 == 0:
            f = CHORD_HZ[(b // 4) % 4]
            triad = 0.1 * sum(np.sin(2 * np.pi * f * m * bar_t) for m in (1.0, 1.26, 1.5))
            y[at : at + len(bar_t)] += triad[: len(y) - at]
    return y[:n]


def test_the_last_chord_runs_to_the_end_of_a_loop_cut_just_into_its_next_bar():
    """8 bars and the first 5 ms of the ninth: the ninth bar's beat falls after the last chroma frame; its few ms
    had been a chord segment with nothing heard in it, "N" (15.997-16.005 s)."""
    result = analyze_music(_drum_loop(8, tail_seconds=0.005), SR)
    chords = result["chords"]
    assert chords[-1]["end"] == result["duration_seconds"]
    assert all(b["start"] == a["end"] for a, b in zip(chords[:-1], chords[1:], strict=True))
    assert min(c["end"] - c["start"] for c in chords) >= HOP / SR, chords[-3:]
    assert chords[-1]["label"] == "E:maj", chords[-3:]



def test_no_chord_of_a_few_ms_at_either_end():
    """A track that opens on a 46 ms C major stab, then is nearly silent to 4 s, then holds G major, its beats from
    22 ms on (a stranger's opened on a 22 ms "C:maj", then "N", which the page's readout showed at 0:00.0): the
    22 ms before the first beat join the first beat's segment, and so do the 30 ms after the last beat."""
    from worker.music.chords import MIN_EDGE_SEGMENT_SECONDS, decode_chords_learned

    duration = 20.0
    times = np.arange(int(duration * SR / HOP)) * HOP / SR
    energy = np.where(times < 4.0, 0.01, 1.0)
    energy[0] = 1.0
    chroma = np.zeros((12, len(times)))
    chroma[[0, 4, 7], 0] = 1.0  # C E G
    chroma[[7, 11, 2], 1:] = 1.0  # G B D
    chroma *= energy
    beat_times = np.append(0.022 + 0.5 * np.arange(40), duration - 0.03)
    chords = decode_chords_learned(chroma, chroma.copy(), energy, times, beat_times, duration=duration)
    assert chords[0]["start"] == 0.0 and chords[-1]["end"] == duration
    assert min(c["end"] - c["start"] for c in chords) >= MIN_EDGE_SEGMENT_SECONDS, chords
    assert [c["label"] for c in chords] == ["N", "G:maj"], chords
