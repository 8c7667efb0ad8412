"""The "corpus" family of the music test set: J. S. Bach chorales from music21's bundled corpus, transposed so
that the 24 keys are covered, on one GM instrument at a random tempo (bench/pitch_testset.py renders them).

The label is the key signature plus the final bass note; music21's analysis of the whole score (a key-profile
reading) is recorded beside it (`key_analysis`, `key_agrees`) as a second opinion. Neither is always right:
of the 8 test chorales where they differ, 5 open and close on the label's tonic chord (the profile reading
took the relative key) and 3 open in one key and close on its dominant, a Phrygian or half-cadence ending
the label rule reads as the tonic. Downbeats are the score's bar starts (`bar_starts`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from worker.music.key import PITCH_NAMES

CHORALE_PROGRAMS = [19, 20, 48, 49, 52, 0, 61, 68, 71, 42]
SLOW_BPM_MAX = 95.0  # BPM: the slow, drum-less items of the test set are at most this fast
MAX_SECONDS = 36.0  # seconds of a chorale rendered
START_SECONDS = 0.5  # silence before the first note
DOWNBEAT_RULE = "bar starts"  # the label's rule (bar_starts); items rendered before it are relabelled


def chorale_items(n: int, rng: np.random.Generator) -> list[tuple[Path, int, str]]:
    """(path, target key index 0-23, label) for up to n chorales with an unambiguous key."""
    from music21 import corpus

    paths = sorted(corpus.getComposer("bach"), key=str)
    rng.shuffle(paths)
    return [(p, i % 24, p.stem) for i, p in enumerate(paths[: n * 3])]


def chorale_key(score) -> tuple[int, str] | None:
    """(tonic pitch class, mode) from the key signature and the final bass note, or None."""
    from music21 import key as m21key

    sigs = list(score.recurse().getElementsByClass(m21key.KeySignature))
    if not sigs:
        return None
    sharps = sigs[0].sharps
    major_tonic = (7 * sharps) % 12
    minor_tonic = (major_tonic + 9) % 12
    bass = score.parts[-1].flatten().notes
    if not len(bass):
        return None
    last = bass[-1]
    pc = (last.pitches[0].pitchClass if hasattr(last, "pitches") else last.pitch.pitchClass)
    if pc == major_tonic:
        return major_tonic, "major"
    if pc == minor_tonic:
        return minor_tonic, "minor"
    return None


def analysed_key(score) -> tuple[int, str]:
    """(tonic pitch class, mode) of music21's key analysis of the whole score (a profile method on
    every note, the ending included): a second opinion on chorale_key, which reads a Phrygian or
    half-cadence ending (bass on the dominant under a minor key signature) as a minor tonic, while the
    profile reading often takes a minor chorale for its relative major."""
    k = score.analyze("key")
    return int(k.tonic.pitchClass), str(k.mode)


def make_chorale(path: Path, target: int, rng: np.random.Generator, max_seconds: float = MAX_SECONDS, *,
                 slow: bool = False):
    import pretty_midi
    from music21 import corpus, meter

    score = corpus.parse(str(path))
    found = chorale_key(score)
    if found is None:
        return None
    tonic, mode = found
    shift = transposition(tonic, target)
    ts = list(score.recurse().getElementsByClass(meter.TimeSignature))
    if not ts or ts[0].denominator != 4 or ts[0].numerator not in (3, 4):
        return None
    bpm = float(rng.uniform(60, 150))
    if slow and rng.random() < 2 / 3:
        bpm = float(rng.uniform(60, SLOW_BPM_MAX))
    elif slow:
        bpm = float(rng.uniform(95, 180))
    q = 60.0 / bpm
    start = START_SECONDS
    program = int(rng.choice(CHORALE_PROGRAMS))
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    add_parts(pm, score, [program] * len(score.parts), q=q, shift=shift, max_seconds=max_seconds)
    end_t = min(score_end(score) * q, max_seconds)
    beats = [start + k * q for k in range(int(end_t / q) + 1)]
    truth = {
        "family": "corpus",
        "source": path.stem,
        "key": f"{PITCH_NAMES[(tonic + shift) % 12]} {mode}",
        **key_analysis_fields(score, shift),
        "tempo_bpm": bpm,
        "time_signature": int(ts[0].numerator),
        "beats": beats,
        "downbeats": downbeat_times(score, q, max_seconds),
        "downbeat_rule": DOWNBEAT_RULE,
        "program": program,
    }
    return pm, truth


def transposition(tonic: int, target: int) -> int:
    """Semitones (-5..6) that take pitch class `tonic` to key index `target`'s tonic (0-23, minor from 12)."""
    shift = (target % 12 - tonic) % 12
    return shift - 12 if shift > 6 else shift


def add_parts(pm, score, programs: list[int], *, q: float, shift: int, max_seconds: float,
              min_quarters: float = 0.0) -> None:
    """Append one pretty_midi instrument per part of `score` that sounds in the render (programs[i] for part
    i): q seconds per quarter note, the first note at START_SECONDS, transposed by `shift` semitones, notes
    starting after max_seconds dropped and the rest released 2 quarters after it at the latest, each held 95 %
    of its length (at least `min_quarters`: a grace note has none)."""
    import pretty_midi

    for program, part in zip(programs, score.parts, strict=True):
        inst = pretty_midi.Instrument(program=program)
        for n in part.flatten().stripTies().notes:
            t_on = START_SECONDS + float(n.offset) * q
            if t_on > START_SECONDS + max_seconds:
                continue
            t_off = min(t_on + max(float(n.quarterLength), min_quarters) * q * 0.95,
                        START_SECONDS + max_seconds + 2 * q)
            for p in n.pitches:
                if 0 <= int(p.midi) + shift < 128:
                    inst.notes.append(pretty_midi.Note(80, int(p.midi) + shift, t_on, t_off))
        if inst.notes:
            pm.instruments.append(inst)


def bar_starts(score) -> list[float]:
    """Quarter-note offsets where a notated bar begins: every measure that does not continue a bar (the
    pickup and the second half of a bar split at a repeat or phrase boundary have `paddingLeft`), the last
    bar included however short it is.

    The first rule (measures of full length) dropped both halves of a split bar and the shortened last bar:
    290 of 398 chorales in 3/4 or 4/4 lost at least one downbeat, so a decoder placing every bar right scored
    ~0.85 on them."""
    measures = score.parts[-1].getElementsByClass("Measure")
    return [float(m.offset) for m in measures if m.paddingLeft == 0 and m.duration.quarterLength > 0]


def downbeat_times(score, q: float, max_seconds: float) -> list[float]:
    """Seconds of the bar starts make_chorale renders (q seconds per quarter note, the first note at
    START_SECONDS, the score cut after max_seconds)."""
    end_t = min(score_end(score) * q, max_seconds)
    return [START_SECONDS + d * q for d in bar_starts(score) if d * q <= end_t]


def score_end(score) -> float:
    """Quarter-note offset where the last note of the score ends (the render's end)."""
    return max(float(n.offset) + float(n.quarterLength)
               for part in score.parts for n in part.flatten().stripTies().notes)


def key_analysis_fields(score, shift: int) -> dict:
    """{"key_analysis": music21's key of the score transposed by `shift`, "key_agrees": whether it is
    the label}: bench/pitch_accuracy.py also scores the chorales whose two readings agree, and
    bench/key_fit.py fits on those only (a disputed label is noise, not a key to learn)."""
    tonic, mode = chorale_key(score) or (None, None)
    a_tonic, a_mode = analysed_key(score)
    return {"key_analysis": f"{PITCH_NAMES[(a_tonic + shift) % 12]} {a_mode}",
            "key_agrees": tonic == a_tonic and mode == a_mode}


def backfill_labels(meta_path: Path) -> dict:
    """A chorale rendered before key_analysis or the bar-start downbeat rule existed gets them from its
    source score (the audio is untouched: the shift is the label's distance from the source's own key, the
    times follow from the recorded tempo exactly as make_chorale placed the notes)."""
    from music21 import corpus

    truth = json.loads(meta_path.read_text())
    if truth.get("family") != "corpus" or ("key_analysis" in truth and truth.get("downbeat_rule") == DOWNBEAT_RULE):
        return truth
    path = next(p for p in corpus.getComposer("bach") if Path(p).stem == truth["source"])
    score = corpus.parse(str(path))
    if "key_analysis" not in truth:
        found = chorale_key(score)
        assert found is not None, truth["source"]  # it was rendered, so its key was read
        shift = (PITCH_NAMES.index(truth["key"].split()[0]) - found[0]) % 12
        truth.update(key_analysis_fields(score, shift))
    truth["downbeats"] = downbeat_times(score, 60.0 / truth["tempo_bpm"], MAX_SECONDS)
    truth["downbeat_rule"] = DOWNBEAT_RULE
    meta_path.write_text(json.dumps(truth, indent=1))
    return truth
