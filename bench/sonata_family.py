"""A key-fit family of classical-style openings: a theme in the home key, a transition and a second theme in the
key a classical exposition moves to, written here phrase by phrase and cut at 36 s like the chorales.

Why: the key model was fitted on chorales, pattern songs, grooves, pop loops, modal vamps and tempo changes, and
the classical movements no fit saw (bench/classical_check.py) showed what none of them holds: an excerpt that
states its key in the opening phrases and then spends a third or more of its time in the dominant (a major key)
or the relative major (a minor key), ending there or on a half cadence. Its misses were of exactly that kind
(Mozart K. 156/i and Haydn op. 1/1 v read in the dominant, a minor movement in its relative major). These
items are labelled with the home key, so a fit on them learns that the opening and the first cadences name the
key and the last chord and the chord totals need not.

Each item (`make_sonata`): a key (item i in key i % 24), a metre (4/4, 3/4, 2/4 or 6/8), a beat tempo of
56-132 BPM, and a plan of four-bar phrases: antecedent (ending on a half cadence) and consequent (a perfect
cadence) in the home key, a transition whose last bar is the new key's dominant, then second-theme and closing
phrases in the new key (V of a major key; III, or v, of a minor one); about one item in six stays home (a
rounded binary tune), one in six moves to the subdominant side and back. A melody (chord tones on the beats,
passing and neighbour notes between, the cadences' own degrees) over the folk family's accompaniment textures
(oom-pah, broken chords, pad) or a three-voice string texture, on soundfonts the test set does not hold out.

Fit only: `build_sonata_corpus` writes split "train" items into bench/out/music_train_sonata (rendered by
`pitch_testset.py --train-corpus`), which `bench/key_fit.py --sonata` adds to the fit data. No scored check reads
them; nothing here comes from a score.

Tried on 2026-11-30 and not shipped. The shipped key model (never fitted on these) scores 0.899 on the 144
items: the classical movements' failure (0.894) reproduces in them. Fitted with them (grouped cross-validation
on fit data: the six old families 0.953 either way, these items 0.984), then checked once on the held-out sets,
shipped -> with them: unseen chorales (bench/chorale_check.py) 0.893 -> 0.913, the test split's chorales
0.903 -> 0.918 and pattern songs 0.986 -> 1.000, but pop loops 0.932 -> 0.918 (below the 0.92 target) and
modal 0.939 -> 0.924 (overall 0.949 both), and the classical movements 0.894 -> 0.884 (one dominant reading
fixed, two new ones). The fit learns the generator's openings more than it learns classical music: real
movements modulate later or sooner, ornament and double their lines, and their openings are not always a
tonic triad.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .chorale_family import START_SECONDS
from .folk_family import TRIAD, add_accompaniment
from .music_render import HELD_OUT_SOUNDFONTS, available_soundfonts, render_mix, render_once, write_audio

SONATA_SEED = 990000  # item i renders with default_rng(SONATA_SEED + i) (folk: 980000+, the corpus: 900000+)
SONATA_ITEMS = 144  # six per key
MAX_SECONDS = 36.0  # seconds rendered, as the chorales and the classical movements
BEAT_BPM = (56.0, 132.0)  # in the notated beat (a dotted quarter in 6/8), drawn log-uniformly
METRES = {"4/4": (4, 1.0, False), "3/4": (3, 1.0, False), "2/4": (2, 1.0, False), "6/8": (2, 1.5, True)}
# (beats per bar, beat in quarter notes, compound)
MELODY_PROGRAMS = (40, 73, 68, 71, 0, 6, 41)  # violin, flute, oboe, clarinet, piano, harpsichord, viola
ACCOMP_PROGRAMS = (0, 0, 6, 48, 46, 19)  # piano (twice as likely), harpsichord, strings, harp, organ
TEXTURES = ("broken", "oompah", "pad", "strings")
# chords as (root in semitones above the local tonic, quality); phrases are eight half-bar chords; a 3/4 or 6/8
# bar takes one chord, the phrase reduced to its entries TRIPLE_REDUCTION, which keep each cadence's two chords
# roman numerals as theory writes them (upper case major, lower case minor; VI_m the minor key's major VI)
I, II, IV, V, VI, V7 = (0, "maj"), (2, "min"), (5, "maj"), (7, "maj"), (9, "min"), (7, "7")  # noqa: E741
i, iv, VI_m, III, VII = (0, "min"), (5, "min"), (8, "maj"), (3, "maj"), (10, "maj")
V_OF_V = (2, "maj")
PHRASES = {
    "major": {
        "antecedent": ((I, I, IV, I, II, V, V, V), (I, V, I, IV, I, II, V, V)),
        "consequent": ((I, I, IV, I, II, V7, I, I), (I, VI, IV, II, I, V7, I, I)),
        "closing": ((I, IV, I, V7, II, V7, I, I), (I, VI, II, V7, I, V7, I, I)),
    },
    "minor": {
        "antecedent": ((i, i, iv, i, iv, V, V, V), (i, V, i, iv, VI_m, iv, V, V)),
        "consequent": ((i, i, iv, i, iv, V7, i, i), (i, VI_m, iv, V, i, V7, i, i)),
        "closing": ((i, iv, i, V7, iv, V7, i, i), (i, VI_m, iv, V7, i, V7, i, i)),
    },
}
TRANSITION = {  # in the home key, ending on the new key's dominant (V/V in major; VII = V of III in minor)
    "major": ((I, VI, II, V_OF_V, V_OF_V, V_OF_V, V_OF_V, V_OF_V), (I, IV, VI, II, V_OF_V, V_OF_V, V, V)),
    "minor": ((i, VI_m, iv, VII, VII, VII, VII, VII), (i, iv, VI_m, VII, III, VII, VII, VII)),
}
TRIPLE_REDUCTION = (0, 2, 5, 7)  # the entries a phrase keeps at one chord a bar: the cadence is the last two
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11)  # harmonic minor: the leading tone of V


def plan(mode: str, rng: np.random.Generator) -> list[tuple[int, str, tuple]]:
    """[(local tonic above the home tonic, local mode, eight half-bar chords)] of the phrases in order."""
    p = PHRASES[mode]
    def pick(kind: str, m: str = mode) -> tuple:
        return PHRASES[m][kind][int(rng.integers(2))]

    home = [(0, mode, pick("antecedent")), (0, mode, pick("consequent"))]
    route = rng.random()
    if route < 1 / 6:  # a rounded binary tune: never leaves home
        return home + [(0, mode, pick("closing")), (0, mode, p["antecedent"][1]), (0, mode, pick("consequent"))]
    if route < 2 / 6:  # to the subdominant side and back: IV (iv) for a phrase, then home
        side = (5, mode)
        return home + [(side[0], side[1], pick("consequent")), (0, mode, pick("antecedent")),
                       (0, mode, pick("consequent"))]
    if mode == "major":
        new = (7, "major")
    else:
        new = (3, "major") if rng.random() < 0.75 else (7, "minor")
    transition = TRANSITION[mode][int(rng.integers(2))]
    if new == (7, "minor"):  # the minor dominant is reached through its own V (a major chord on 2)
        transition = (*transition[:4], V_OF_V, V_OF_V, V_OF_V, V_OF_V)
    return home + [(0, mode, transition), (new[0], new[1], pick("consequent", new[1])),
                   (new[0], new[1], pick("closing", new[1])), (new[0], new[1], pick("consequent", new[1]))]


def chord_spans(phrases, *, bar_q: float, per_bar: int, tonic: int) -> list[tuple[float, float, int, str]]:
    """[(start, end, root pitch class, quality)] in quarter notes, from bar 0 (no pickup)."""
    spans, t = [], 0.0
    span_q = bar_q / per_bar
    for local, _mode, chords in phrases:
        for k, (root, quality) in enumerate(chords):
            if per_bar == 1 and k not in TRIPLE_REDUCTION:
                continue
            spans.append((t, t + span_q, (tonic + local + root) % 12, quality))
            t += span_q
    return spans


def melody(spans, phrases, *, tonic: int, beat_q: float, compound: bool, per_bar: int, rng: np.random.Generator
           ) -> list[tuple[float, float, int]]:
    """[(start, length in quarter notes, MIDI pitch)]: on each beat a chord tone near the last note, between
    beats a passing or neighbour note of the local scale (or the beat held); each phrase's last chord is held,
    on the local tonic after a perfect cadence and on the chord's third after a half cadence (V's third: the
    leading tone of the key the phrase goes to)."""
    notes: list[tuple[float, float, int]] = []
    pitch = 72 + tonic % 12
    per_phrase = 8 if per_bar == 2 else 4
    for n, (start, stop, root, quality) in enumerate(spans):
        local, mode, _ = phrases[n // per_phrase]
        scale = [(tonic + local + d) % 12 for d in (MAJOR_SCALE if mode == "major" else MINOR_SCALE)]
        seventh = (10,) if quality == "7" else ()
        tones = [(root + d) % 12 for d in (*TRIAD["min" if quality == "min" else "maj"], *seventh)]
        last = n % per_phrase == per_phrase - 1
        if last:  # the cadence: one long note
            goal = (tonic + local) % 12 if root == (tonic + local) % 12 else tones[1]
            pitch = nearest(goal, pitch)
            notes.append((start, stop - start, pitch))
            continue
        t = start
        while t < stop - 1e-6:
            pitch = nearest(int(tones[int(rng.integers(len(tones)))]), pitch, spread=int(rng.integers(0, 5)))
            sub = beat_q / (3 if compound else 2)
            if rng.random() < 0.55:  # the beat in two (three) notes: the chord tone, then steps of the scale
                steps = 3 if compound else 2
                step = int(rng.choice((-1, 1)))
                p = pitch
                for k in range(steps):
                    notes.append((t + k * sub, sub, p))
                    p = scale_step(p, step, scale)
                pitch = notes[-1][2]
            else:
                notes.append((t, beat_q, pitch))
            t += beat_q
    return notes


def nearest(pc: int, around: int, spread: int = 0) -> int:
    """The MIDI pitch of pitch class pc nearest to `around` (+ spread), kept in 64-86."""
    target = around + spread
    p = target + ((pc - target + 6) % 12) - 6
    while p < 64:
        p += 12
    while p > 86:
        p -= 12
    return p


def scale_step(pitch: int, step: int, scale: list[int]) -> int:
    """The next note of `scale` above (step 1) or below (-1) `pitch`."""
    p = pitch + step
    while p % 12 not in scale:
        p += step
    return p


def make_sonata(index: int, rng: np.random.Generator, max_seconds: float = MAX_SECONDS):
    """(pretty_midi.PrettyMIDI, truth dict) of item `index`: key index % 24, labelled with its home key."""
    import pretty_midi

    from worker.music.key import key_label

    tonic, mode = index % 12, "major" if index % 24 < 12 else "minor"
    metre = str(rng.choice(list(METRES)))
    beats, beat_q, compound = METRES[metre]
    bar_q = beats * beat_q
    per_bar = 2 if beats in (2, 4) and not compound else 1
    beat_bpm = float(np.exp(rng.uniform(*np.log(BEAT_BPM))))
    q = 60.0 / (beat_bpm * beat_q)
    phrases = plan(mode, rng)
    spans = chord_spans(phrases, bar_q=bar_q, per_bar=per_bar, tonic=tonic)
    end_q = max_seconds / q
    spans = [s for s in spans if s[0] < end_q]
    pm = pretty_midi.PrettyMIDI()
    lead = pretty_midi.Instrument(program=int(rng.choice(MELODY_PROGRAMS)))
    for start, length, pitch in melody(spans, phrases, tonic=tonic, beat_q=beat_q, compound=compound,
                                       per_bar=per_bar, rng=rng):
        t = START_SECONDS + start * q
        if t <= START_SECONDS + max_seconds:
            lead.notes.append(pretty_midi.Note(int(rng.integers(70, 96)), pitch, t, t + 0.95 * length * q))
    pm.instruments.append(lead)
    texture = str(rng.choice(TEXTURES))
    triads = [(s, e, r, "maj" if qual == "7" else qual) for s, e, r, qual in spans]  # the folk textures' chords
    if texture == "strings":
        add_strings(pm, spans, q=q, max_seconds=max_seconds)
    else:
        add_accompaniment(pm, triads, texture=texture, beat_q=beat_q, compound=compound, bar_q=bar_q, q=q,
                          origin=0.0, shift=0, program=int(rng.choice(ACCOMP_PROGRAMS)), max_seconds=max_seconds,
                          rng=rng)
    new_key = [(loc, m) for loc, m, _ in phrases if (loc, m) != (0, mode)]
    return pm, {"family": "sonata", "key": key_label(index % 24), "time_signature": metre,
                "beat_bpm": beat_bpm, "texture": texture,
                "second_key": (key_label((tonic + new_key[0][0]) % 12 + (12 if new_key[0][1] == "minor" else 0))
                               if new_key else None)}


def add_strings(pm, spans, *, q: float, max_seconds: float) -> None:
    """Viola and cello under the melody: the chord's third and fifth held, the bass on the root (the 7th of a V7
    in the viola), each span as one bow stroke."""
    import pretty_midi

    viola, cello = pretty_midi.Instrument(program=41), pretty_midi.Instrument(program=42)
    for start, stop, root, quality in spans:
        t0, t1 = START_SECONDS + start * q, START_SECONDS + stop * q
        if t0 > START_SECONDS + max_seconds:
            break
        third = 4 if quality != "min" else 3
        upper = (10 if quality == "7" else 7, third)
        for d in upper:
            viola.notes.append(pretty_midi.Note(60, 55 + (root + d - 55) % 12, t0, t1 - 0.02))
        cello.notes.append(pretty_midi.Note(70, 36 + (root - 36) % 12, t0, t1 - 0.02))
    pm.instruments += [viola, cello]


def build_sonata_corpus(out: Path, n: int = SONATA_ITEMS) -> list[dict]:
    """Render (or reuse) n items into `out` with a manifest (split "train", FLAC, soundfonts the test set does not
    hold out); returns their truths."""
    out.mkdir(parents=True, exist_ok=True)
    fonts = sorted(f for f in available_soundfonts() if f not in HELD_OUT_SOUNDFONTS)

    def make(name: str, index: int) -> dict:
        rng = np.random.default_rng(SONATA_SEED + index)
        pm, truth = make_sonata(index, rng)
        font = fonts[int(rng.integers(len(fonts)))]
        audio = write_audio(render_mix(pm, soundfont=font, engine="lib"), out / name, "flac")
        truth.update(name=name, audio=audio.name, source=name, soundfont=font, kit=None, drums=False, split="train",
                     tuning_cents=0.0)
        print(f"train {name}: {truth['key']:9s} -> {truth['second_key']} {truth['time_signature']} "
              f"{truth['beat_bpm']:.0f} BPM {truth['texture']}", flush=True)
        return truth

    made = [render_once(out, f"sonata_{index:03d}", lambda index=index: make(f"sonata_{index:03d}", index))
            for index in range(n)]
    (out / "manifest.json").write_text(json.dumps(made, indent=1))
    return made
