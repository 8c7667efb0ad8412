"""Rock grooves with pushed sections, for the beat network's training corpus only (issue 12).

Real rock and metal (the charted songs, bench/charted_songs.py) push the riff for bars at a time: the kick,
snare, crash, the chord stabs and the bass anticipate by an eighth or sit on the "and"s, so the onsets and a
network trained only on accents that fall on the beat sit half a beat off the true grid, and the decoder follows
them. Here such sections are rendered with the labels on the true beats, so the network learns to keep the phase
through them from the bars around them (its context is about +-3 s):

- a song is a 4/4 groove (one of the seen simple styles, rock-like most often, 85-185 BPM) over a power-chord or
  stab riff; runs of 1-4 bars (PUSH_BARS) are pushed: the accents move by half a beat, early (anticipated) or late
  (on the "and"s); in half the runs the hi-hat (or ride) stays on the grid, in some the snare's backbeat does,
  and where every part moves the run is 1-2 bars (MOVED_BARS); 2-6 ordinary bars lie between runs;
- the riff itself is sometimes syncopated in the ordinary bars too (on the "and"s, 3+3+2, a gallop).

Never in the test set (testset_families.FAMILY_COUNTS) nor in the default training corpus: rendered on request
(`pitch_testset.py --train-pushed N`, into bench/out/music_train_pushed) for `beat_train.py --pushed`.
Deterministic in its numpy Generator.
"""

from __future__ import annotations

import numpy as np

from .music_families import START, Song, _bars_for, _loop_chords, add_lead, beat_grid
from .music_styles import (
    BASS_PROGRAMS,
    CHORD_PROGRAMS,
    CRASH,
    HAT,
    KICK,
    MAJOR_SCALE,
    MINOR_SCALE,
    PITCH_NAMES,
    RIDE,
    SNARE,
    STYLES,
    TONIC_MAJOR_LOOPS,
    TONIC_MINOR_LOOPS,
)

PUSHED_BPM = (85.0, 185.0)  # beat tempo range: the charted rock songs are 95-190 BPM
PUSH_BARS = (1, 4)  # bars per pushed run (inclusive) while the hat or the snare stays on the grid
MOVED_BARS = (1, 2)  # ... and where every part moves: short enough for the network's +-3 s context to span
GAP_BARS = (2, 6)  # ordinary bars between pushed runs (inclusive): the true grid is the song's most of the time
KEEP_HAT = 0.5  # share of pushed runs whose hi-hat (or ride) stays on the grid
KEEP_SNARE = 0.4  # ... whose backbeat stays (kick, bass and riff pushed)
ROCK_SHARE = 0.5  # share of songs on the rock style (the rest: the other seen 4/4 styles)
# riffs as (onset, length) in beats within one beat-pair, repeated: straight eighths, on the "and"s,
# 3+3+2 sixteenths, a gallop, a held chord
RIFFS = {
    "eighths": ((0.0, 0.45), (0.5, 0.45), (1.0, 0.45), (1.5, 0.45)),
    "ands": ((0.5, 0.45), (1.5, 0.45)),
    "332": ((0.0, 0.7), (0.75, 0.7), (1.5, 0.45)),
    "gallop": ((0.0, 0.45), (0.5, 0.2), (0.75, 0.2), (1.0, 0.45), (1.5, 0.2), (1.75, 0.2)),
    "held": ((0.0, 1.9),),
}
RIFF_WEIGHTS = (0.35, 0.15, 0.15, 0.15, 0.2)


def push_plan(n_bars: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(shift in beats per bar: 0, -0.5 or +0.5; whether the hat moves with it; whether the snare does). Bar 0 and
    the last bar stay ordinary, so every song starts and ends on the labelled grid."""
    shift = np.zeros(n_bars)
    hat_moves = np.zeros(n_bars, dtype=bool)
    snare_moves = np.zeros(n_bars, dtype=bool)
    bar = 1 + int(rng.integers(0, 3))
    while bar < n_bars - 1:
        hat, snare = rng.random() >= KEEP_HAT, rng.random() >= KEEP_SNARE
        lo, hi = MOVED_BARS if hat and snare else PUSH_BARS
        end = min(bar + int(rng.integers(lo, hi + 1)), n_bars - 1)
        shift[bar:end] = -0.5 if rng.random() < 0.6 else 0.5
        hat_moves[bar:end], snare_moves[bar:end] = hat, snare
        bar = end + int(rng.integers(GAP_BARS[0], GAP_BARS[1] + 1))
    return shift, hat_moves, snare_moves


def pushed_song(index: int, rng: np.random.Generator, styles: list[str]) -> tuple[object, dict]:
    """(PrettyMIDI, truth): a 4/4 groove whose accents are pushed by an eighth in runs of bars; the beats and
    downbeats are the true grid's throughout."""
    simple = [s for s in styles if STYLES[s].beats == 4 and STYLES[s].steps == 4 and not STYLES[s].swing]
    name = "rock" if "rock" in simple and rng.random() < ROCK_SHARE else simple[int(rng.integers(len(simple)))]
    style = STYLES[name]
    bpm = float(rng.uniform(*PUSHED_BPM))
    n_bars = _bars_for(style, bpm)
    song = Song(beat_grid(bpm, n_bars * style.beats), style, rng)
    shift, hat_moves, snare_moves = push_plan(n_bars, rng)
    tonic, minor = int(rng.integers(12)), bool(rng.random() < 0.6)
    loops = TONIC_MINOR_LOOPS if minor else TONIC_MAJOR_LOOPS
    chords = _loop_chords(loops[int(rng.integers(len(loops)))], tonic)
    hat_note = RIDE if rng.random() < 0.3 else HAT
    hat_steps = style.hat if rng.random() < 0.6 else tuple(range(0, 16, 4))  # its own, or quarters
    kit = song.instrument(0, drum=True)
    power = rng.random() < 0.7
    comp = song.instrument(int(rng.choice(CHORD_PROGRAMS["power" if power else "stabs"])))
    bass = song.instrument(int(rng.choice(BASS_PROGRAMS)))
    riff_name = str(rng.choice(list(RIFFS), p=RIFF_WEIGHTS))
    kick_steps = style.kick if rng.random() < 0.6 else (0, 6, 8, 14)  # the style's, or a rock push pattern
    chord_truth = []
    for bar in range(n_bars):
        s = float(shift[bar])
        b0 = bar * 4
        for note, steps, moved in ((KICK, kick_steps, s), (SNARE, style.snare, s if snare_moves[bar] else 0.0)):
            for st in steps:
                song.note(kit, note, b0 + st / 4 + moved, b0 + st / 4 + moved + 0.1, 100 + int(rng.integers(-10, 10)))
        hs = s if hat_moves[bar] else 0.0
        for st in hat_steps:
            song.note(kit, hat_note, b0 + st / 4 + hs, b0 + st / 4 + hs + 0.1, 60 + int(rng.integers(-10, 10)))
        if bar == 0 or (s != 0 and shift[bar - 1] != s) or (s == 0 and shift[bar - 1] != 0):
            song.note(kit, CRASH, b0 + s, b0 + s + 1, 100)  # a section's first accent, pushed with it
        root, quality = chords[bar % len(chords)]
        chord_truth.append([round(song.time(b0), 4), round(song.time(b0 + 4), 4), f"{PITCH_NAMES[root]}:{quality}"])
        voicing = ([40 + ((root - 40) % 12), 47 + ((root - 40) % 12)] if power else
                   sorted(55 + ((root + iv - 55) % 12) for iv in ((0, 3, 7) if quality == "min" else (0, 4, 7))))
        vel = int(rng.integers(70, 95))
        for pair in (0, 2):
            for on, length in RIFFS[riff_name]:
                for m in voicing:
                    song.note(comp, m, b0 + pair + on + s, b0 + pair + on + s + length, vel)
        low = 28 + ((root - 28) % 12)
        for st in kick_steps:
            song.note(bass, low, b0 + st / 4 + s, b0 + st / 4 + s + 0.45, int(rng.integers(80, 100)))
    scale = MINOR_SCALE if minor else MAJOR_SCALE
    melody = add_lead(song, tonic, scale, chords, chord_beats=4, settle_on_tonic=False) if rng.random() < 0.3 else []
    beats = [round(float(t), 4) for t in song.grid[:-1]]
    truth = {"family": "pushed", "style": name, "key": f"{PITCH_NAMES[tonic]} {'minor' if minor else 'major'}",
             "tempo_bpm": bpm, "tempo_profile": "steady", "tempo_factor": 1.0, "start_bpm": bpm,
             "time_signature": "4/4", "beats_per_bar": 4, "beats": beats, "downbeats": beats[::4],
             "chords": chord_truth, "melody_notes": melody, "drums": True, "riff": riff_name,
             "pushed_bars": [[int(b), float(shift[b]), bool(hat_moves[b]), bool(snare_moves[b])]
                             for b in np.nonzero(shift)[0]],
             "start": START}
    return song.pm, truth
