"""Speech with long pauses between its words (a spoken alphabet, a word list, a dictation): the sounding parts
joined, so that the speech finder (speech.py) reads them as it reads fluent speech.

A pause says nothing of speech or music: what sounds between the pauses does. The window tests of speech.py read
2 s windows and take gaps over MAX_DIPS of a window for sparse, staccato music, so a word every second or so with
silence between was never speech (KLettres' spoken alphabets: the French one read "G major" with 30 chords). Here
every pause (a run of frames DIP_DB under the loudest within PAUSE_REACH_SECONDS, or ACTIVE_DB under the track's
loud level) is cut to KEPT_PAUSE_SECONDS, and the frames left are judged by the same tests, with two readings that
only the words' edges make possible:
- each word's own pitch: a word said alone glides over several semitones (letters' names: a median 10-90 % span of
  270-450 cents, the Italian speaker's 80), where a note keeps within one however it wavers (vibrato of +-40-50
  cents: 66-84). In a word that glides WORD_RANGE_CENTS or more, a vowel held 200 ms (a German "aah") is not a held
  note and its consonants' hiss (a French "effe", "esse") is not drum or noise; sound in no such word (between the
  words, a hit, a note) counts as before;
- a pitch heard in a pause is not the voice's: mains hum under a French alphabet read as 9 s of one pitch, a scale
  to speech.sounds_like_notes. Pause frames count as unpitched; their sound (a bed, drums) stays.
Music with rests loses its rests only: its notes stay held or on a scale, a gliding kick under a voice's pitch, and
a steady beat is still read over the stretch in its own time (speech.without_steady_beats, in the pipeline).

Chosen on KLettres' alphabets en, fr, de, es, it, nl, ru, ar, da, hu (the others and its word lists held out)
against bench/speech_check.py's fit music (synthetic, wesnoth, colobot) and synthetic music with rests (notes,
staccato notes and runs, sung notes, chords, kicks, gliding synth notes, each with 0.4-1.4 s rests): of the grid
KEPT_PAUSE_SECONDS 0.15-0.4, PAUSE_REACH_SECONDS 0.5-2, WORD_RANGE_CENTS 100-250, WORD_MAX_SECONDS 0.8-1.5, the most
alphabets told speech (9 of 10: 60 % of the track or more) with no second of that music called speech, here at a
span of 100-200 cents, and 150 is kept furthest from vibrato's 84 and the letters' spans; a kept pause of 0.2 s let
6 s of speech over a drum loop through (the drums between the words fall in the pauses), 0.4 s 9 s of a gliding
synth with rests, a reach of 2 s 20 s of it.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi

PAUSE_REACH_SECONDS = 1.0  # s each side: the loud level a pause is measured against (a word's, not the track's)
KEPT_PAUSE_SECONDS = 0.3  # s of each pause kept, half at each end
WORD_MAX_SECONDS = 1.0  # s: a sounding run between pauses this short is a word (or a note, or a motif)
WORD_RANGE_CENTS = 150.0  # cents: a word whose pitch spans this (10th to 90th percentile) glides
WORD_MIN_VOICED = 5  # frames: a word needs this many pitched ones to be judged


def joined_frames(db: np.ndarray, *, fps: float, dip_db: float,
                  quiet_db: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The frames (levels `db`, dB) left when every pause is cut to KEPT_PAUSE_SECONDS, as (indices, which of them
    are pause); None when no pause is longer than that (nothing to join). A pause is a run of frames `dip_db` under
    the loudest within PAUSE_REACH_SECONDS, or `quiet_db` under the track's loud level (its 99th percentile: a word
    every 5 s leaves the 95th in the silence), so that noise flickering in a long silence does not break it."""
    n = len(db)
    reach = int(PAUSE_REACH_SECONDS * fps)
    if n == 0:
        return None
    pause = (db < ndi.maximum_filter1d(db, 2 * reach + 1, mode="nearest") - dip_db) | (
        db < np.percentile(db, 99) - quiet_db)
    kept = int(KEPT_PAUSE_SECONDS * fps)
    keep = np.ones(n, dtype=bool)
    edges = np.diff(np.concatenate([[0], pause.astype(np.int8), [0]]))
    for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True):
        if b - a > kept:
            keep[a + kept // 2 : b - (kept - kept // 2)] = False
    return None if keep.all() else (np.nonzero(keep)[0], pause[keep])


def in_original_time(segments: list[tuple[float, float]], frames: np.ndarray, *, fps: float,
                     end: float) -> list[tuple[float, float]]:
    """`segments` (s) of the joined frames as times of the original audio (`end` s long): a segment that reaches
    the joined audio's end reaches the original's."""
    def at(t: float) -> float:
        k = int(round(t * fps))
        return end if k >= len(frames) else float(frames[k]) / fps
    return [(round(at(a), 2) if a > 0 else 0.0, round(at(b), 2)) for a, b in segments]


def merged(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The union of two lists of (start, end) stretches, sorted, overlapping ones joined."""
    out: list[tuple[float, float]] = []
    for s, e in sorted(a + b):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def gliding_words(pause: np.ndarray, cents: np.ndarray, voiced: np.ndarray, *, fps: float) -> np.ndarray:
    """Frames of the words (sounding runs between `pause` frames, at most WORD_MAX_SECONDS long) whose pitched
    frames span WORD_RANGE_CENTS or more from the 10th to the 90th percentile, the estimate's octave slips folded."""
    out = np.zeros(len(pause), dtype=bool)
    edges = np.diff(np.concatenate([[0], (~pause).astype(np.int8), [0]]))
    for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True):
        pitch = cents[a:b][voiced[a:b]]
        if b - a > WORD_MAX_SECONDS * fps or len(pitch) < WORD_MIN_VOICED:
            continue
        rel = (pitch - np.median(pitch) + 600.0) % 1200.0 - 600.0
        out[a:b] = np.percentile(rel, 90) - np.percentile(rel, 10) >= WORD_RANGE_CENTS
    return out
