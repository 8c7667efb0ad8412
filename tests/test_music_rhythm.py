"""The slow-attack beat anchor on beat sequences whose answer is known."""

from __future__ import annotations

import numpy as np

from worker.music.beat_tracking import anchor_to_first_attack
from worker.music.onsets import Attack, first_attack

PERIOD = 0.5  # s (120 BPM)


def _late_beats(lag: float, n: int = 24) -> np.ndarray:
    """The DP's beats on a slow-attack piece: on the first note, then settled `lag` s late."""
    beats = 1.0 + PERIOD * np.arange(n)
    beats[4:] += lag
    beats[1:4] += lag * np.arange(1, 4) / 4
    return beats


def test_steady_beats_after_a_slow_attack_become_a_grid_on_the_attack():
    out = anchor_to_first_attack(_late_beats(0.2), Attack(start=1.0, rise_seconds=0.2))
    np.testing.assert_allclose(out, 1.0 + PERIOD * np.arange(len(out)), atol=0.005)
    assert len(out) == 24


def test_fast_attack_irregular_beats_or_a_disagreeing_start_leave_the_beats_alone():
    beats = _late_beats(0.2)
    np.testing.assert_array_equal(anchor_to_first_attack(beats, Attack(1.0, 0.02)), beats)
    np.testing.assert_array_equal(anchor_to_first_attack(beats, None), beats)
    # the DP's first beat is a third of a beat away from the attack: a pickup, not this case
    np.testing.assert_array_equal(anchor_to_first_attack(beats, Attack(1.17, 0.2)), beats)
    rubato = 1.0 + np.cumsum(PERIOD * (1 + 0.2 * np.sin(np.arange(24))))
    np.testing.assert_array_equal(anchor_to_first_attack(rubato, Attack(rubato[0], 0.2)), rubato)


def test_first_attack_measures_a_ramp():
    fps = 22050 / 256
    t = np.arange(int(3 * fps)) / fps
    level = np.clip((t - 1.0) / 0.3, 0.0, 1.0)  # starts at 1 s, linear in amplitude over 0.3 s
    mag = np.tile(level, (8, 1))
    a = first_attack(mag)
    assert abs(a.start - 1.0) <= 2 / fps
    assert 0.12 <= a.rise_seconds <= 0.2  # -6 dB is half the amplitude: 0.15 s into the ramp
    assert first_attack(np.zeros((8, 100))) is None


def _bars_of_chords(meter: int, pickup: int, n_beats: int = 32) -> np.ndarray:
    """(12, n_beats + 1) beat chroma: a pickup, then one triad per bar of `meter` beats."""
    triads = [(0, 4, 7), (5, 9, 0), (7, 11, 2), (9, 0, 4)]
    seg = np.zeros((12, n_beats + 1))
    seg[[0, 4, 7], 0] = 1.0  # before the first beat
    for b in range(n_beats):
        bar = (b - pickup) // meter + 1
        seg[list(triads[bar % 4]), b + 1] = 1.0
    return seg / np.linalg.norm(seg, axis=0)


def test_bars_start_where_whole_bar_chords_change():
    from worker.music.rhythm import bar_positions

    beats = 0.5 * np.arange(32)
    flat = np.ones(int(17 * 22050 / 256))
    for meter in (3, 4):
        for pickup in range(meter):
            chroma = _bars_of_chords(meter, pickup)
            assert bar_positions(beats, flat, flat, chroma, chroma) == (meter, pickup)
    assert bar_positions(beats[:6], flat, flat) == (None, 0)


def _pulses(beats: np.ndarray, n_frames: int) -> np.ndarray:
    """A beat activation: a 3-frame bump on each beat time (the network's output, idealised)."""
    from worker.music.onsets import FPS

    act = np.zeros(n_frames)
    for t in beats:
        f = int(round(t * FPS))
        act[max(0, f - 1) : f + 2] += (0.5, 1.0, 0.5)[: len(act[max(0, f - 1) : f + 2])]
    return act


def test_beats_follow_a_tempo_step_that_a_fixed_period_cannot():
    """100 BPM for 16 s, then 125 BPM (a 25 % step): the fixed-period DP drifts off half the beats,
    the local period keeps every beat within 70 ms."""
    from bench.music_scores import beat_f
    from worker.music.beat_tracking import track_beats
    from worker.music.onsets import FPS

    first = 1.0 + 0.6 * np.arange(27)
    truth = np.concatenate([first, first[-1] + 0.48 * np.arange(1, 34)])
    act = _pulses(truth, int((truth[-1] + 2.0) * FPS))
    tempo = 60.0 / np.median(np.diff(truth))
    assert beat_f(truth, track_beats(act, tempo)) < 0.8
    assert beat_f(truth, track_beats(act, tempo, follow_tempo=True)) >= 0.98


def test_steady_tempo_leaves_the_fixed_period_beats_unchanged():
    from worker.music.beat_tracking import track_beats
    from worker.music.onsets import FPS

    rng = np.random.default_rng(3)
    truth = 0.8 + 0.5 * np.arange(60) + rng.normal(0.0, 0.008, 60)  # 120 BPM with a little jitter
    act = _pulses(truth, int(32 * FPS)) + 0.1 * rng.random(int(32 * FPS))
    np.testing.assert_array_equal(track_beats(act, 120.0, follow_tempo=True), track_beats(act, 120.0))


def test_half_bar_parity_points_at_the_beats_with_more_downbeat_evidence():
    """Beats 1 and 3 of each bar carry a little more downbeat activation and the chord changes, 2 and 4
    none: the parity says the odd tracked beats are strong when the music starts on a one-beat upbeat."""
    from worker.music.beats import half_bar_parity

    rng = np.random.default_rng(0)
    n = 32
    strong_odd = np.arange(n) % 2 == 1  # tracked beat 0 is the upbeat
    strength = 0.3 + 0.05 * strong_odd + 0.02 * rng.standard_normal(n)
    chords = np.zeros((12, n + 1))
    root = 0
    for i in range(n + 1):
        if i >= 1 and strong_odd[i - 1]:
            root = (root + 5) % 12  # a new chord on each strong beat, held over the weak one
        chords[[root, (root + 4) % 12, (root + 7) % 12], i] = 1.0 / np.sqrt(3)
    parity = half_bar_parity(strength, chords)
    assert parity[1] > 1.0 and parity[0] == -parity[1], parity
    # without the chroma the activation alone still points the same way, and flat evidence says nothing
    assert half_bar_parity(strength, None)[1] > 0.5
    np.testing.assert_array_equal(half_bar_parity(np.full(n, 0.3), None), [0.0, 0.0])


def _beat_activation(bpms: tuple[float, ...], seconds: float = 15.0) -> tuple[np.ndarray, np.ndarray]:
    """(3, T) network-like activations with a beat peak at each true beat, `seconds` at each tempo in turn,
    and those beat times."""
    from worker.music.onsets import FPS

    t, times = 0.5, []
    for bpm in bpms:
        end = t + seconds
        while t < end:
            times.append(t)
            t += 60.0 / bpm
    act = np.zeros((3, int((t + 1.0) * FPS)), dtype=np.float32)
    for x in times:
        i = int(round(x * FPS))
        act[0, i - 1 : i + 2] = (0.5, 1.0, 0.5)
    return act, np.array(times)


def test_a_tempo_step_is_tracked_from_the_first_half_when_the_whole_comb_settles_between_them():
    """125 BPM for 15 s, then 150: the whole piece's comb settles on 50 BPM (their common subharmonic, 2.5 and 3
    beats), a tempo neither half has, and beats tracked there miss most of the music; each half alone says 125
    and 150, so tracking starts at 125 and the local period follows the step. A steady piece is untouched."""
    from bench.music_scores import beat_f
    from worker.music import beats
    from worker.music.onsets import FPS
    from worker.music.rhythm import estimate_tempo

    act, truth = _beat_activation((125.0, 150.0))
    whole, _, _ = estimate_tempo(act[0].astype(np.float64), prior_bpm=beats.NET_PRIOR_BPM,
                                 prior_octaves=beats.NET_PRIOR_OCTAVES, half_weight=beats.NET_HALF_WEIGHT)
    assert whole is not None and abs(whole - 50.0) < 1.0, whole
    assert abs(beats.tempo_of_a_changing_piece(act[0].astype(np.float64), whole) - 125.0) < 1.5
    res = beats.decode(act, duration=act.shape[1] / FPS)
    assert beat_f(truth, res.beat_times) >= 0.95
    steady, truth = _beat_activation((120.0,), seconds=30.0)
    assert beats.tempo_of_a_changing_piece(steady[0].astype(np.float64), 120.0) == 120.0
    assert beat_f(truth, beats.decode(steady, duration=steady.shape[1] / FPS).beat_times) >= 0.95


def _envelope_with_onsets(times: list[float], n_frames: int) -> np.ndarray:
    """A unit-height onset envelope (frames at onsets.FPS) with a 3-frame peak at each time."""
    from worker.music.onsets import FPS

    env = np.zeros(n_frames)
    for t in times:
        i = int(round(t * FPS))
        if 1 <= i < n_frames - 1:
            env[i - 1 : i + 2] += (0.4, 1.0, 0.4)
    return env


def test_bar_repetition_hears_the_bar_length_a_rhythm_repeats_at():
    """A melody rhythm that comes back every 3 beats (a waltz figure: long note, then two beats of eighths) reads
    as 3 beats per bar, the same figure every 4 beats (with a bar of held note) as 4; a texture every beat shares
    (with a little noise) says next to nothing."""
    from worker.music import beats
    from worker.music.onsets import FPS

    period, n = 0.5, 48
    beat_times = 1.0 + period * np.arange(n)
    frames = int((beat_times[-1] + 2.0) * FPS)
    for metre in (3, 4):
        onsets = []
        for i, b in enumerate(beat_times):
            pos = i % metre
            if pos == 0:
                onsets.append(b)  # the long note
            elif pos in (1, 2):
                onsets += [b, b + period / 2]  # eighths
        env = _envelope_with_onsets(onsets, frames)
        rep = beats.bar_repetition(beats.beat_patterns([env], beat_times), (3, 4))
        other = 4 if metre == 3 else 3
        assert rep[metre] > rep[other] + 0.2, (metre, rep)
        assert abs(rep[3] + rep[4]) < 1e-9  # relative to their mean
    grid = 1.0 + 40 / FPS * np.arange(n)  # a whole number of frames per beat: no rounding pattern
    steady = _envelope_with_onsets(list(grid) + list(grid + 20 / FPS), frames)
    steady += 0.05 * np.random.default_rng(1).standard_normal(frames)
    rep = beats.bar_repetition(beats.beat_patterns([steady], grid), (3, 4))
    assert abs(rep[3] - rep[4]) < 0.1, rep
    assert beats.bar_repetition(beats.beat_patterns([steady], beat_times[:10]), (3, 4)) == {}


def test_notes_on_the_beats_thirds_make_a_drumless_jig_compound_where_the_network_hears_no_triplets():
    """The network's compound output is low (0.1, as on drum-less 6/8 music); the pitch-flux envelope has notes on
    each beat's thirds (a jig), so the beat divides in three; the same beats with notes on their halves stay
    simple, and without the envelopes the network's reading stands."""
    from worker.music import beats
    from worker.music.onsets import FPS

    period, n = 0.6, 40
    beat_times = 1.0 + period * np.arange(n)
    frames = int((beat_times[-1] + 2.0) * FPS)
    act = np.zeros((3, frames), dtype=np.float32)
    for t in beat_times:
        i = int(round(t * FPS))
        act[0, i - 1 : i + 2] = (0.5, 1.0, 0.5)
    act[1, [int(round(t * FPS)) for t in beat_times[::2]]] = 0.6  # a bar every 2 beats: 6/8
    act[2] = 0.1
    jig = _envelope_with_onsets([b + k * period / 3 for b in beat_times for k in range(3)], frames)
    march = _envelope_with_onsets([b + k * period / 2 for b in beat_times for k in range(2)], frames)
    flat = np.zeros(frames)
    assert beats.subdivision_evidence(beats.beat_patterns([flat, flat, jig], beat_times)) > 0.5
    assert beats.subdivision_evidence(beats.beat_patterns([flat, flat, march], beat_times)) < -0.5
    duration = frames / FPS
    res = beats.decode(act, duration=duration, envelopes=[jig, jig, jig])
    assert res.compound and res.beats_per_bar == 2, (res.compound, res.beats_per_bar)
    assert not beats.decode(act, duration=duration, envelopes=[march, march, march]).compound
    assert not beats.decode(act, duration=duration).compound


def test_beats_hold_their_phase_through_a_pushed_section():
    """120 BPM for 60 s; from 20 to 32 s the accents sit half a beat early (a pushed riff) and the beat is
    silent. The DP follows the push onto the off-beats; held, the beats come back onto the song's grid there."""
    from bench.music_scores import beat_f
    from worker.music.beat_tracking import hold_phase, track_beats
    from worker.music.onsets import FPS

    truth = 1.0 + 0.5 * np.arange(118)
    pushed = (truth >= 20.0) & (truth < 32.0)
    act = _pulses(np.concatenate([truth[~pushed], truth[pushed] - 0.25]), int(61 * FPS))
    loose = track_beats(act, 120.0)
    assert beat_f(truth[pushed], loose) < 0.2  # the push is followed
    held = track_beats(act, 120.0, hold=True)
    assert beat_f(truth, held) >= 0.98
    on_grid = np.round(truth * FPS).astype(int)
    np.testing.assert_array_equal(hold_phase(on_grid, 0.5 * FPS), on_grid)


def test_a_phase_that_moves_for_good_is_not_held_back():
    """A song that moves half a beat at 30 s and stays there: neither phase holds 60 % of it, nothing changes; nor
    does a steady song whose few beats sit a little off the grid (as played) with no stretch on the other phase."""
    from worker.music.beat_tracking import hold_phase

    frames = np.concatenate([np.arange(0, 2600, 43), np.arange(2600 + 21, 5200, 43)])
    np.testing.assert_array_equal(hold_phase(frames, 43.0), frames)
    played = np.arange(0, 5200, 43)
    played[[10, 40, 41, 90]] += (6, -7, 7, -6)
    np.testing.assert_array_equal(hold_phase(played, 43.0), played)
