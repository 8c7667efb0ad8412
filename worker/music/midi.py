"""The analysis as a standard MIDI file: melody, chords, and a beat/bar click track.

Tracks (absolute seconds, so they line up with the audio whatever the tempo map says):
- "melody": the tracked notes (GM flute);
- "chords": each chord as a block chord around middle C (GM strings), with its label as a
  text event at its start, so a DAW shows the chord names;
- "beats": a drum click on every beat, accented (another drum sound) on every downbeat.
The file's time signature is the detected one and its tempo map follows the tracked beats: every beat is
a beat of the grid (a tempo change on each), and the first downbeat starts a bar, with whole beats before it
for the music ahead of it. A DAW then draws bars and beats where the analysis found them, through tempo
changes and pickups; a single tempo from time 0 had put a stranger's downbeats mid-bar in 14 of 15 tracks
(0.65 of a beat in for a bar starting at 0.33 s) and let the grid drift up to two beats on rubato music.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worker.files import atomic_path

from .beats import BEAT_LATENCY_SECONDS
from .onsets import FPS

MELODY_PROGRAM = 73  # GM flute: a clear, neutral lead for listening back
CHORD_PROGRAM = 48  # GM string ensemble: sustained, under the melody
MELODY_VELOCITY = 100
CHORD_VELOCITY = 60
BEAT_NOTE, DOWNBEAT_NOTE = 42, 36  # GM closed hi-hat on beats, bass drum on downbeats
BEAT_VELOCITY, DOWNBEAT_VELOCITY = 70, 100
CLICK_SECONDS = 0.05
MIN_NOTE_SECONDS = 0.02
MIN_LEAD_SHARE = 0.5  # beats added before the first one take at least half a beat interval each (<= 2x the tempo)
# A first beat this near 0 s is the music starting on it: the analysis puts a beat BEAT_LATENCY_SECONDS after its
# activation frame (11.6 ms each), so music that starts on its beat has its first at 10, 22 or 33 ms (the network's
# peak on one of its first three frames), never at 0 s. A whole beat before it had been written there: a first bar
# of 1/4 lasting those ms at 1818-6000 BPM (14 of a stranger's 50 Debian game tracks and renders), so a DAW
# numbered the music's first bar 2 and met a tempo beyond its range (999 BPM or less), which it clamps, moving every
# later event. Such a first beat is the grid's beat 0, at 0 s: at most 33 ms early, half a beat F's tolerance.
AT_START_SECONDS = BEAT_LATENCY_SECONDS + 2.5 / FPS
# bars of one 1/d note a lead-in may be: at 120 BPM 1/8 is 250 ms, 1/64 31 ms (a first beat after AT_START_SECONDS)
LEAD_IN_DENOMINATORS = (8, 16, 32, 64)
RESOLUTION = 480  # ticks per quarter note: a 1/64 is 30 of them (pretty_midi's 220 would make a 1/32 27.5)
GAP_INTERVALS = 4.0  # see _follow_beats
COMPOUND_QUARTERS_PER_BEAT = 1.5  # a dotted quarter: the beat of 6/8, 9/8 and 12/8
CHORD_LOW = 55  # MIDI G3: chord tones are voiced in the octave above
PITCH_CLASSES = {"C": 0, "C#": 1, "D": 2, "D#": 3, "E": 4, "F": 5, "F#": 6, "G": 7, "G#": 8, "A": 9, "A#": 10, "B": 11}
QUALITY_INTERVALS = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10)}


def chord_pitches(label: str) -> list[int]:
    """MIDI pitches of a chord label such as "A:min" ([] for "N" or an unknown label)."""
    root, _, quality = label.partition(":")
    if root not in PITCH_CLASSES or quality not in QUALITY_INTERVALS:
        return []
    return sorted(CHORD_LOW + (PITCH_CLASSES[root] + iv - CHORD_LOW) % 12 for iv in QUALITY_INTERVALS[quality])


def write_analysis_midi(path: Path, *, notes: list[dict] | None, chords: list[dict] | None = None,
                        beat_times: list[float] | None = None, downbeat_times: list[float] | None = None,
                        tempo_bpm: float | None = None, time_signature: str | None = None) -> None:
    """Write the melody notes [{onset, offset, midi}], chords [{start, end, label}] and beats (s), atomically.

    Tracks with nothing to hold are left out; the file always has at least its tempo map. time_signature is the
    analysis' ("3/4", "6/8", ...); in a compound metre (x/8, the beat a dotted quarter) the tempo, which MIDI
    counts in quarter notes, is 1.5 times the beats per minute, so a DAW's bars and beats fall where the
    analysis put them.
    """
    import pretty_midi

    numerator, denominator = (int(x) for x in time_signature.split("/")) if time_signature else (0, 4)
    quarters_per_beat = COMPOUND_QUARTERS_PER_BEAT if denominator == 8 else 1.0
    pm = pretty_midi.PrettyMIDI(initial_tempo=float(tempo_bpm) * quarters_per_beat if tempo_bpm else 120.0,
                                resolution=RESOLUTION)
    intro: list[tuple[int, int, float]] = []
    first_bar = 0.0
    if beat_times is not None and len(beat_times) > 1:
        beats_per_bar = numerator // 3 if denominator == 8 else numerator
        intro, first_bar = _follow_beats(pm, np.asarray(beat_times, dtype=float), downbeat_times or [],
                                         beats_per_bar=beats_per_bar, quarters_per_beat=quarters_per_beat,
                                         denominator=denominator)
    if numerator:  # short bars before the metre (a lead-in, a pickup: an x/8 beat is three eighths), then the metre
        pm.time_signature_changes += [pretty_midi.TimeSignature(n, d, t) for n, d, t in intro]
        pm.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, first_bar))
    if notes:
        melody = pretty_midi.Instrument(program=MELODY_PROGRAM, name="melody")
        for n in notes:
            start = float(n["onset"])
            melody.notes.append(pretty_midi.Note(MELODY_VELOCITY, int(n["midi"]), start,
                                                 max(float(n["offset"]), start + MIN_NOTE_SECONDS)))
        pm.instruments.append(melody)
    if chords:
        _add_chords(pm, chords)
    if beat_times:
        _add_beats(pm, beat_times, downbeat_times or [])
    with atomic_path(path) as tmp:
        pm.write(str(tmp))


def _follow_beats(pm, beats: np.ndarray, downbeats: list[float], *, beats_per_bar: int, quarters_per_beat: float,
                  denominator: int = 4) -> tuple[list[tuple[int, int, float]], float]:
    """Give `pm` a tempo map on which beat i of `beats` (s) is grid beat i + lead and the first downbeat starts a bar.

    lead: whole beats for the music before the first beat (about as many as fit at the opening's tempo, at least one
    when it does not start at 0 s; one within AT_START_SECONDS of 0 s is taken as there), plus what makes the first
    downbeat a bar line where the time before the first beat holds those beats at up to twice the music's tempo.
    Where it does not (the first beat at 0 s, the first downbeat a later beat: a span of no time had made pretty_midi
    divide by zero), the first bar is short instead (a pickup). A first beat under MIN_LEAD_SHARE of a beat in is
    preceded by a lead-in bar of 1/8 to 1/64 instead of whole beats (LEAD_IN_DENOMINATORS). Returns the bars before
    the metre [(numerator, denominator, start s)] and the time the metre starts. The span before the first beat,
    each beat interval, and everything after the last beat (at the last interval's tempo) get a tempo each."""
    ticks_per_beat = quarters_per_beat * pm.resolution
    interval = float(np.median(np.diff(beats)))
    if beats[0] <= AT_START_SECONDS:  # the music starts on its first beat (AT_START_SECONDS)
        beats = np.concatenate(([0.0], beats[1:]))
    intro: list[tuple[int, int, float]] = []
    lead_in = 0.0  # beats of a lead-in bar
    if 0.0 < beats[0] < MIN_LEAD_SHARE * interval:
        # a whole beat there had been 5-10 times the tempo (a first beat 70-160 ms in: 583-882 BPM, past what a DAW
        # takes): a bar of one 1/d note instead, d the one whose length at the music's tempo is nearest the gap
        d = min(LEAD_IN_DENOMINATORS, key=lambda n: abs(np.log(4.0 / n / quarters_per_beat * interval / beats[0])))
        intro, lead_in = [(1, d, 0.0)], 4.0 / d / quarters_per_beat
    lead = 0 if lead_in or beats[0] <= 1e-3 else max(1, int(round(beats[0] / interval)))
    first_bar = float(beats[0]) if lead_in else 0.0
    if beats_per_bar > 0 and downbeats:
        first_down = int(np.argmin(np.abs(beats - float(downbeats[0]))))
        extra = -(first_down + lead) % beats_per_bar
        if extra and beats[0] < (lead + extra) * interval * MIN_LEAD_SHARE:
            pickup = (first_down + lead) % beats_per_bar
            intro.append((int(round(pickup * quarters_per_beat * denominator / 4)), denominator, first_bar))
            first_bar = float(beats[first_down])
        else:
            lead += extra
    # a beat interval over GAP_INTERVALS median ones is a silence whose beats were dropped (silence_gaps.py; the
    # tracker's own intervals stay within 2 periods): it counts as whole grid beats, or its one tempo had been
    # 120 s per beat, beyond what a MIDI tempo can hold (16.7 s a quarter)
    steps = np.diff(beats) / interval
    counts = np.where(steps > GAP_INTERVALS, np.round(steps), 1.0)
    position = lead_in + lead + np.concatenate(([0.0], np.cumsum(counts)))
    ticks = [int(round(p * ticks_per_beat)) for p in position]
    scales = [(0, float(beats[0]) / ticks[0])] if ticks[0] > 0 else []
    scales += [(ticks[i], float(beats[i + 1] - beats[i]) / (ticks[i + 1] - ticks[i])) for i in range(len(beats) - 1)]
    pm._tick_scales = scales  # pretty_midi's tempo map: (tick, seconds per tick) from each tick on
    pm._update_tick_to_time(ticks[-1])
    return intro, first_bar


def _add_chords(pm, chords: list[dict]) -> None:
    import pretty_midi

    track = pretty_midi.Instrument(program=CHORD_PROGRAM, name="chords")
    for ch in chords:
        start, end = float(ch["start"]), float(ch["end"])
        if end - start < MIN_NOTE_SECONDS:
            continue
        pm.text_events.append(pretty_midi.Text(ch["label"], start))
        for m in chord_pitches(ch["label"]):
            track.notes.append(pretty_midi.Note(CHORD_VELOCITY, m, start, end))
    if track.notes:
        pm.instruments.append(track)


def _add_beats(pm, beat_times: list[float], downbeat_times: list[float]) -> None:
    import pretty_midi

    track = pretty_midi.Instrument(program=0, is_drum=True, name="beats")
    downs = {round(float(t), 3) for t in downbeat_times}
    for t in beat_times:
        down = round(float(t), 3) in downs
        track.notes.append(pretty_midi.Note(DOWNBEAT_VELOCITY if down else BEAT_VELOCITY,
                                            DOWNBEAT_NOTE if down else BEAT_NOTE, float(t), float(t) + CLICK_SECONDS))
    pm.instruments.append(track)


def write_melody_midi(path: Path, notes: list[dict], *, tempo_bpm: float | None = None) -> None:
    """The melody alone (the file's previous content)."""
    write_analysis_midi(path, notes=notes, tempo_bpm=tempo_bpm)
