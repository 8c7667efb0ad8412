"""Generated song families with known answers, beyond the pattern songs and chorales.

- "groove": drum-driven grooves in 16 styles (music_styles.STYLES: 4/4, 3/4, 6/8, 12/8,
  shuffle), tempo half the time from the style's usual range and half from anywhere in
  60-180 BPM (50-140 dotted-quarter BPM in compound metres), with bass, chords, fills,
  crashes and a lead in half of them.
- "poploop": four-chord loops in all 24 keys that do not start on the tonic (and mostly do not
  end on it), over a groove.
- "modal": dorian, mixolydian, phrygian, lydian and aeolian vamps (labelled with the major or
  minor of the mode's tonic triad, the convention of key datasets), with or without drums.
- "tempo": grooves and drum-less songs whose tempo steps, ramps or slows down at the end;
  scored on beats and downbeats (their tempo is not one number).

Every function is deterministic in its numpy Generator.
"""

from __future__ import annotations

import numpy as np

from .music_styles import (
    BASS_PROGRAMS,
    CHORD_PROGRAMS,
    COMPOUND_BPM,
    CRASH,
    LEAD_PROGRAMS,
    MAJOR_SCALE,
    MINOR_SCALE,
    MODES,
    PITCH_NAMES,
    POP_MAJOR_LOOPS,
    POP_MINOR_LOOPS,
    QUALITY_INTERVALS,
    SIMPLE_BPM,
    SNARE,
    STYLES,
    TOMS,
    TONIC_MAJOR_LOOPS,
    TONIC_MINOR_LOOPS,
    Style,
)

START = 0.5  # s of silence before the first downbeat
SONG_SECONDS = 26.0  # target length


def pick_tempo(style: Style, rng: np.random.Generator) -> float:
    """Half the time the style's usual tempo, half anywhere in the metre's range (often far from usual)."""
    lo, hi = COMPOUND_BPM if style.steps == 3 else SIMPLE_BPM
    if rng.random() < 0.5:
        ulo, uhi = style.usual_bpm
        return float(rng.uniform(max(lo, ulo), min(hi, uhi)) if max(lo, ulo) < min(hi, uhi) else rng.uniform(lo, hi))
    return float(rng.uniform(lo, hi))


def beat_grid(bpm: float, n_beats: int, *, profile: str = "steady", factor: float = 1.0) -> np.ndarray:
    """(n_beats + 1,) beat onset times from START: steady, a step at the middle bar, a linear ramp,
    or a ritardando over the last quarter. `factor` is the final tempo over the first."""
    k = np.arange(n_beats + 1, dtype=np.float64)
    if profile == "steady":
        tempo = np.full(n_beats, bpm)
    elif profile == "step":
        tempo = np.where(k[:-1] < n_beats // 2, bpm, bpm * factor)
    elif profile == "ramp":
        tempo = bpm * (1.0 + (factor - 1.0) * k[:-1] / max(n_beats - 1, 1))
    else:  # "rit"
        tail = max(1, n_beats // 4)
        frac = np.clip((k[:-1] - (n_beats - tail)) / tail, 0.0, 1.0)
        tempo = bpm * (1.0 + (factor - 1.0) * frac)
    return START + np.concatenate([[0.0], np.cumsum(60.0 / tempo)])


class Song:
    """Notes placed on a beat grid (which may change tempo) plus the truth they imply."""

    def __init__(self, grid: np.ndarray, style: Style, rng: np.random.Generator):
        import pretty_midi

        self.grid, self.style, self.rng = grid, style, rng
        self.pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
        self.n_beats = len(grid) - 1
        self.n_bars = self.n_beats // style.beats

    def time(self, beat: float) -> float:
        """Seconds of a (fractional) beat position, interpolating the grid."""
        b = int(np.clip(np.floor(beat), 0, self.n_beats - 1))
        return float(self.grid[b] + (beat - b) * (self.grid[b + 1] - self.grid[b]))

    def step_beat(self, bar: int, step: int) -> float:
        """Beat position of drum step `step` of bar `bar`, swing applied to odd eighths."""
        st = self.style
        beat = bar * st.beats + step / st.steps
        if st.swing and st.steps == 4 and step % 2 == 1:
            beat += st.swing * 0.5 / st.steps
        return beat

    def instrument(self, program: int, *, drum: bool = False):
        import pretty_midi

        inst = pretty_midi.Instrument(program=program, is_drum=drum)
        self.pm.instruments.append(inst)
        return inst

    def note(self, inst, pitch: int, beat0: float, beat1: float, velocity: int) -> None:
        import pretty_midi

        t0, t1 = self.time(beat0), self.time(beat1)
        inst.notes.append(pretty_midi.Note(int(np.clip(velocity, 1, 127)), int(pitch), t0, max(t1, t0 + 0.03)))


def add_drums(song: Song, *, fills: bool = True) -> None:
    """The style's groove on every bar, a fill before every 4th bar line, crashes after fills."""
    st, rng = song.style, song.rng
    kit = song.instrument(0, drum=True)
    per_bar = st.beats * st.steps
    parts = [(36, st.kick, 100), (SNARE, st.snare, 100), (42, st.hat, 65), (SNARE, st.ghost, 35)]
    parts += [(note, steps, 80) for note, steps in st.extra.items()]
    for bar in range(song.n_bars):
        fill = fills and bar % 4 == 3 and bar < song.n_bars - 1
        for note, steps, vel in parts:
            for s in steps:
                if fill and s >= per_bar - st.steps:
                    continue  # the last beat of the bar belongs to the fill
                b = song.step_beat(bar, s)
                song.note(kit, note, b, b + 0.1, vel + int(rng.integers(-12, 12)))
        if fill:
            for s in range(per_bar - st.steps, per_bar):
                b = song.step_beat(bar, s)
                song.note(kit, int(rng.choice((SNARE, *TOMS))), b, b + 0.1, 90 + int(rng.integers(-10, 15)))
        if bar == 0 or (fills and bar % 4 == 0):
            song.note(kit, CRASH, bar * st.beats, bar * st.beats + 1, 95)


def add_harmony(song: Song, chords: list[tuple[int, str]], *, chord_beats: int) -> list:
    """Bass and chord parts for a chord per `chord_beats` beats; returns the chord truth [[t0, t1, label]]."""
    st, rng = song.style, song.rng
    comp = song.instrument(int(rng.choice(CHORD_PROGRAMS[st.comp])))
    bass = song.instrument(int(rng.choice(BASS_PROGRAMS)))
    truth = []
    kick_beats = sorted({s / st.steps for s in st.kick if s < st.steps * chord_beats} | {0.0})
    for c, beat0 in enumerate(range(0, song.n_beats, chord_beats)):
        root, quality = chords[c % len(chords)]
        beat1 = min(beat0 + chord_beats, song.n_beats)
        truth.append([round(song.time(beat0), 4), round(song.time(beat1), 4), f"{PITCH_NAMES[root]}:{quality}"])
        voicing = sorted(55 + ((root + iv - 55) % 12) for iv in QUALITY_INTERVALS[quality])
        if st.comp == "power":
            voicing = [43 + ((root - 43) % 12), 50 + ((root - 43) % 12)]
        vel = int(rng.integers(55, 80))
        for on, off in _comp_rhythm(st.comp, st, chord_beats):
            if beat0 + on < beat1:
                for i, m in enumerate(voicing):
                    if st.comp == "arpeggio":
                        m = voicing[int(on * st.steps) % len(voicing)] if i == 0 else None
                    if m is not None:
                        song.note(comp, m, beat0 + on, min(beat0 + off, beat1), vel)
        low = 36 + ((root - 36) % 12)
        for k, kb in enumerate(kick_beats):
            pitch = low + 7 if (k % 2 == 1 and rng.random() < 0.4) else low
            song.note(bass, pitch, beat0 + kb, beat0 + min(kb + 0.9, chord_beats), int(rng.integers(75, 95)))
    return truth


def _comp_rhythm(comp: str, st: Style, chord_beats: int) -> list[tuple[float, float]]:
    """(on, off) beat offsets of the chord part within one chord."""
    if comp == "sustain":
        return [(0.0, chord_beats - 0.05)]
    if comp == "power":  # eighth notes: half a simple beat, a third of a compound one
        eighth = 0.5 if st.steps == 4 else 1.0 / 3.0
        return [(b, b + 0.9 * eighth) for b in np.arange(0, chord_beats - 1e-6, eighth)]
    if comp == "stabs":
        return [(b + o, b + o + 0.2) for b in range(chord_beats) for o in (0.0, 0.75)]
    if comp == "offbeat":
        return [(b + 0.5, b + 0.8) for b in range(chord_beats)]
    if comp == "waltz":
        return [(b, b + 0.6) for b in range(1, chord_beats) if b % st.beats != 0] or [(0.0, chord_beats - 0.1)]
    return [(s / st.steps, (s + 1) / st.steps) for s in range(chord_beats * st.steps)]  # arpeggio


def add_lead(song: Song, tonic: int, scale, chords: list, *, chord_beats: int, settle_on_tonic: bool) -> list:
    """A lead melody: chord tones on beats, scale steps between, the tonic held at the end of each
    chord loop when `settle_on_tonic`; returns [[onset, offset, midi]]."""
    rng = song.rng
    lead = song.instrument(int(rng.choice(LEAD_PROGRAMS)))
    loop_beats = chord_beats * len(chords)
    notes, beat, prev = [], 0.0, 67
    while beat < song.n_beats - 0.01:
        c = int(beat // chord_beats)
        root, quality = chords[c % len(chords)]
        dur = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
        loop_end = (beat % loop_beats) >= loop_beats - chord_beats
        if settle_on_tonic and loop_end and beat % chord_beats == 0:
            cands, dur = [60 + tonic, 72 + tonic], float(chord_beats)
        elif abs(beat - round(beat)) < 1e-6:
            cands = [60 + (root + iv) % 12 + 12 * k for iv in QUALITY_INTERVALS[quality] for k in (0, 1)]
        else:
            cands = [60 + (tonic + s) % 12 + 12 * k for s in scale for k in (0, 1)]
        dur = min(dur, song.n_beats - beat)
        if rng.random() > 0.12 or (settle_on_tonic and loop_end):
            m = min((m for m in cands if 60 <= m <= 86), key=lambda m: abs(m - prev) + rng.random() * 3)
            song.note(lead, m, beat, beat + 0.9 * dur, int(rng.integers(90, 112)))
            notes.append([round(song.time(beat), 4), round(song.time(beat + 0.9 * dur), 4), int(m)])
            prev = m
        beat += dur
    return notes


def _bars_for(style: Style, bpm: float) -> int:
    return int(np.clip(round(SONG_SECONDS / (style.beats * 60.0 / bpm)), 6, 24))


def make_song(*, family: str, style_name: str, tonic: int, mode: str, chords: list, scale, rng: np.random.Generator,
              drums: bool = True, profile: str = "steady", factor: float = 1.0, lead: bool | None = None,
              settle_on_tonic: bool = False) -> tuple[object, dict]:
    """(PrettyMIDI, truth) of one song in `style_name` over the given chord loop."""
    style = STYLES[style_name]
    bpm = pick_tempo(style, rng)
    n_bars = _bars_for(style, bpm * max(factor, 1.0))
    song = Song(beat_grid(bpm, n_bars * style.beats, profile=profile, factor=factor), style, rng)
    chord_beats = style.beats if style.beats > 2 or rng.random() < 0.5 else 2 * style.beats
    if style.beats == 4 and rng.random() < 0.25:
        chord_beats = 2
    if drums:
        add_drums(song)
    chord_truth = add_harmony(song, chords, chord_beats=chord_beats)
    lead = bool(rng.random() < 0.6) if lead is None else lead
    melody = (add_lead(song, tonic, scale, chords, chord_beats=chord_beats, settle_on_tonic=settle_on_tonic)
              if lead else [])
    beats = [round(float(t), 4) for t in song.grid[:-1]]
    truth = {"family": family, "style": style_name, "key": f"{PITCH_NAMES[tonic]} {mode}",
             "tempo_bpm": None if profile != "steady" else bpm, "tempo_profile": profile, "tempo_factor": factor,
             "start_bpm": bpm, "time_signature": style.time_signature, "beats_per_bar": style.beats,
             "beats": beats, "downbeats": beats[:: style.beats], "chords": chord_truth, "melody_notes": melody,
             "drums": drums}
    return song.pm, truth


def _loop_chords(loop, tonic: int) -> list[tuple[int, str]]:
    return [((tonic + iv) % 12, q) for iv, q in loop]


def groove_song(index: int, rng: np.random.Generator, styles: list[str]) -> tuple[object, dict]:
    style = styles[index % len(styles)]
    tonic, minor = int(rng.integers(12)), bool(rng.random() < 0.4)
    loops = TONIC_MINOR_LOOPS if minor else TONIC_MAJOR_LOOPS
    chords = _loop_chords(loops[int(rng.integers(len(loops)))], tonic)
    return make_song(family="groove", style_name=style, tonic=tonic, mode="minor" if minor else "major",
                     chords=chords, scale=MINOR_SCALE if minor else MAJOR_SCALE, rng=rng)


def poploop_song(index: int, rng: np.random.Generator, styles: list[str]) -> tuple[object, dict]:
    """All 24 keys in turn (index % 24); a loop that does not start on the tonic."""
    tonic, minor = index % 12, (index // 12) % 2 == 1
    loops = POP_MINOR_LOOPS if minor else POP_MAJOR_LOOPS
    chords = _loop_chords(loops[int(rng.integers(len(loops)))], tonic)
    style = styles[int(rng.integers(len(styles)))]
    return make_song(family="poploop", style_name=style, tonic=tonic, mode="minor" if minor else "major",
                     chords=chords, scale=MINOR_SCALE if minor else MAJOR_SCALE, rng=rng,
                     drums=bool(rng.random() < 0.85), lead=bool(rng.random() < 0.8), settle_on_tonic=True)


def modal_song(index: int, rng: np.random.Generator, styles: list[str]) -> tuple[object, dict]:
    names = sorted(MODES)
    mode_name = names[index % len(names)]
    scale, label_mode, vamps = MODES[mode_name]
    tonic = int(rng.integers(12))
    chords = _loop_chords(vamps[int(rng.integers(len(vamps)))], tonic)
    style = styles[int(rng.integers(len(styles)))]
    pm, truth = make_song(family="modal", style_name=style, tonic=tonic, mode=label_mode, chords=chords,
                          scale=scale, rng=rng, drums=bool(rng.random() < 0.6), lead=True, settle_on_tonic=True)
    truth["mode_name"] = mode_name
    return pm, truth


def tempo_change_song(index: int, rng: np.random.Generator, styles: list[str]) -> tuple[object, dict]:
    profile = ("step", "ramp", "rit")[index % 3]
    factor = float(rng.choice([0.75, 0.8, 1.2, 1.3])) if profile != "rit" else float(rng.uniform(0.6, 0.75))
    tonic, minor = int(rng.integers(12)), bool(rng.random() < 0.4)
    loops = TONIC_MINOR_LOOPS if minor else TONIC_MAJOR_LOOPS
    chords = _loop_chords(loops[int(rng.integers(len(loops)))], tonic)
    style = styles[int(rng.integers(len(styles)))]
    return make_song(family="tempo", style_name=style, tonic=tonic, mode="minor" if minor else "major",
                     chords=chords, scale=MINOR_SCALE if minor else MAJOR_SCALE, rng=rng,
                     drums=bool(rng.random() < 0.7), profile=profile, factor=factor)


FAMILIES = {"groove": groove_song, "poploop": poploop_song, "modal": modal_song, "tempo": tempo_change_song}
