"""Drum grooves, metres and harmonic material for the generated test families.

A groove is one bar of drum steps: `steps` per beat (4 = sixteenths in simple metres, 3 =
eighths of a dotted-quarter beat in compound metres). In compound metres (6/8, 12/8,
shuffle) the *beat* is the dotted quarter, so the labelled tempo counts dotted quarters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# GM drum notes
KICK, SNARE, RIM, CLAP, HAT, OPEN_HAT, PEDAL_HAT, CRASH, RIDE = 36, 38, 37, 39, 42, 46, 44, 49, 51
TOMS = (50, 48, 47, 45, 43)


@dataclass(frozen=True)
class Style:
    name: str
    beats: int  # beats per bar
    steps: int  # drum steps per beat: 4 simple (sixteenths), 3 compound (eighths)
    usual_bpm: tuple[float, float]  # the style's usual beat tempo
    kick: tuple[int, ...]
    snare: tuple[int, ...]
    hat: tuple[int, ...]
    extra: dict[int, tuple[int, ...]] = field(default_factory=dict)  # other drum note -> steps
    ghost: tuple[int, ...] = ()  # quiet snare steps
    swing: float = 0.0  # share of a step by which odd eighths are delayed (simple metres)
    comp: str = "sustain"  # chord part: sustain | stabs | offbeat | arpeggio | power | waltz

    @property
    def time_signature(self) -> str:
        return f"{self.beats * 3}/8" if self.steps == 3 else f"{self.beats}/4"


def _every(step: int, n: int, start: int = 0) -> tuple[int, ...]:
    return tuple(range(start, n, step))


STYLES = {s.name: s for s in (
    Style("ballad", 4, 4, (60, 78), (0, 10), (4, 12), _every(2, 16), comp="sustain"),
    Style("hiphop", 4, 4, (82, 98), (0, 7, 10), (4, 12), _every(2, 16), swing=0.3, comp="stabs"),
    Style("pop16", 4, 4, (100, 125), (0, 8, 10), (4, 12), _every(1, 16), comp="offbeat"),
    Style("funk", 4, 4, (95, 115), (0, 3, 10), (4, 12), _every(1, 16), ghost=(7, 9, 14), comp="stabs"),
    Style("rock", 4, 4, (110, 145), (0, 8, 10), (4, 12), _every(2, 16), comp="power"),
    Style("house", 4, 4, (120, 128), (0, 4, 8, 12), (), _every(1, 16), {CLAP: (4, 12), OPEN_HAT: (2, 6, 10, 14)},
          comp="offbeat"),
    Style("disco", 4, 4, (112, 130), (0, 4, 8, 12), (4, 12), _every(2, 16), {OPEN_HAT: (2, 6, 10, 14)},
          comp="stabs"),
    Style("bossa", 4, 4, (120, 145), (0, 3, 4, 7, 8, 11, 12, 15), (), _every(2, 16), {RIM: (0, 3, 6, 10, 13)},
          comp="stabs"),
    Style("punk", 4, 4, (165, 200), (0, 6, 8), (4, 12), (), {CRASH: _every(2, 16)}, comp="power"),
    Style("dnb", 4, 4, (160, 178), (0, 10), (4, 12), _every(2, 16), {RIDE: (2, 6, 10, 14)}, comp="sustain"),
    Style("shuffle", 4, 3, (90, 125), (0, 6), (3, 9), (0, 2, 3, 5, 6, 8, 9, 11), comp="arpeggio"),
    Style("waltz", 3, 4, (84, 180), (0,), (4, 8), (0, 4, 8), comp="waltz"),
    Style("jazzwaltz", 3, 4, (110, 170), (0,), (), (), {RIDE: (0, 4, 7, 8), PEDAL_HAT: (4, 8)}, comp="waltz"),
    Style("jig", 2, 3, (95, 125), (0,), (3,), _every(1, 6), comp="arpeggio"),
    Style("ballad12", 4, 3, (50, 72), (0, 7), (3, 9), _every(1, 12), comp="arpeggio"),
    Style("rock68", 2, 3, (60, 100), (0,), (3,), _every(1, 6), comp="power"),
)}
# Never in any fit: scored on the test split only, to show what happens on grooves nothing saw.
HELD_OUT_STYLES = frozenset({"bossa", "dnb", "punk", "jazzwaltz"})
SIMPLE_BPM = (60.0, 180.0)  # tempo range of the beat (quarter note) in simple metres
COMPOUND_BPM = (50.0, 140.0)  # ... and of the dotted-quarter beat in compound metres

PITCH_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
QUALITY_INTERVALS = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10)}
# (semitones above the tonic, quality) per bar; loops that do not start on the tonic and
# mostly do not end on it either. A minor loop is never a rotation of a major one (Am F C G
# is listed once, as vi-IV-I-V in C major), so every loop has one honest answer; the melody
# still settles on the tonic at the end of each pass, as a singer would.
POP_MAJOR_LOOPS = (
    ((5, "maj"), (0, "maj"), (7, "maj"), (9, "min")),  # IV I V vi
    ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj")),  # vi IV I V
    ((7, "maj"), (9, "min"), (5, "maj"), (0, "maj")),  # V vi IV I
    ((2, "min"), (7, "7"), (0, "maj"), (0, "maj")),  # ii V I I
    ((5, "maj"), (7, "maj"), (0, "maj"), (0, "maj")),  # IV V I I
    ((2, "min"), (5, "maj"), (0, "maj"), (7, "maj")),  # ii IV I V
    ((5, "maj"), (2, "min"), (7, "7"), (0, "maj")),  # IV ii V I
    ((4, "min"), (5, "maj"), (7, "maj"), (0, "maj")),  # iii IV V I
)
POP_MINOR_LOOPS = (
    ((5, "min"), (7, "maj"), (0, "min"), (0, "min")),  # iv V i i
    ((8, "maj"), (10, "maj"), (0, "min"), (0, "min")),  # VI VII i i
    ((8, "maj"), (7, "maj"), (0, "min"), (10, "maj")),  # VI V i VII
    ((5, "min"), (0, "min"), (7, "7"), (0, "min")),  # iv i V7 i
    ((10, "maj"), (8, "maj"), (7, "maj"), (0, "min")),  # VII VI V i
    ((3, "maj"), (10, "maj"), (5, "min"), (0, "min")),  # III VII iv i
    ((7, "maj"), (0, "min"), (5, "min"), (0, "min")),  # V i iv i
    ((5, "min"), (8, "maj"), (7, "7"), (0, "min")),  # iv VI V7 i
)
# Diatonic loops starting on the tonic, for grooves (like the older pattern songs)
TONIC_MAJOR_LOOPS = (((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")), ((0, "maj"), (9, "min"), (5, "maj"), (7, "7")),
                     ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")))
TONIC_MINOR_LOOPS = (((0, "min"), (5, "min"), (7, "maj"), (0, "min")), ((0, "min"), (8, "maj"), (3, "maj"), (7, "7")),
                     ((0, "min"), (10, "maj"), (8, "maj"), (7, "maj")))
# modes: scale, the mir_eval label mode (the major/minor the mode's tonic triad has), vamps
MODES = {
    "dorian": ((0, 2, 3, 5, 7, 9, 10), "minor",
               (((0, "min"), (5, "maj")), ((0, "min"), (10, "maj"), (5, "maj"), (0, "min")))),
    "mixolydian": ((0, 2, 4, 5, 7, 9, 10), "major",
                   (((0, "maj"), (10, "maj"), (5, "maj"), (0, "maj")), ((0, "maj"), (10, "maj")))),
    "phrygian": ((0, 1, 3, 5, 7, 8, 10), "minor",
                 (((0, "min"), (1, "maj")), ((0, "min"), (1, "maj"), (10, "min"), (0, "min")))),
    "lydian": ((0, 2, 4, 6, 7, 9, 11), "major",
               (((0, "maj"), (2, "maj")), ((0, "maj"), (2, "maj"), (7, "maj"), (0, "maj")))),
    "aeolian": ((0, 2, 3, 5, 7, 8, 10), "minor", (((0, "min"), (8, "maj"), (10, "maj"), (0, "min")),)),
}
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
CHORD_PROGRAMS = {"sustain": (0, 4, 48, 49, 52, 88, 89, 19), "stabs": (4, 5, 16, 17, 27, 61, 0),
                  "offbeat": (4, 5, 16, 81, 0, 27), "arpeggio": (0, 24, 25, 46, 4, 11),
                  "power": (29, 30, 27, 81), "waltz": (0, 21, 24, 4, 46)}
BASS_PROGRAMS = (32, 33, 34, 35, 36, 38, 39, 43)
LEAD_PROGRAMS = (73, 40, 56, 65, 66, 71, 68, 80, 81, 53, 11, 0, 22, 74, 26, 54)
