"""Chord recognition on beats: harmonic-aware templates, a key prior, HMM (Viterbi) decoding.

Vocabulary: 12 roots x {maj, min, 7} + "N". Each template is the chroma that the chord's
notes *with their first harmonics* would produce (a C note also lights G and E), so a
plain C major triad is not mistaken for C:maj7 or E:min. The bass chroma votes for the
root; the detected key lends diatonic chords a small prior; the transition prior makes a
chord persist unless the evidence changes.

The pipeline's beat chords use decode_chords_learned: the same segments and HMM with the
emissions of chordmodel.py's small learned model (bench/chord_train.py; on the test split's
chord root per beat 0.916 -> 0.950, every family up). decode_chords stays for the key model's
chord evidence (keymodel.py was fitted on it) and as the fallback without weights.
"""

from __future__ import annotations

import numpy as np

from . import chordmodel
from .chroma import beat_sync
from .key import PITCH_NAMES, viterbi

QUALITIES = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10)}
HARMONIC_DECAY = 0.5  # weight of harmonic h is DECAY**(h-1)
N_HARMONICS = 4
EMISSION_SHARPNESS = 20.0  # cosine similarities -> log-likelihoods (bench/chord_fit.py: fit root 0.910 at 14)
BASS_WEIGHT = 0.35  # how much the bass chroma's agreement with the root counts
SEVENTH_PENALTY = 0.04  # a 7th must explain the chroma clearly better than the triad
CHORD_STAY = 0.85  # per-beat probability of keeping the chord
DIATONIC_BONUS = 0.06  # similarity bonus for chords of the detected key
NO_CHORD_LEVEL = 0.08  # beats whose harmonic energy is below this share of the median are N
# a first or last segment shorter than this (before the first beat, after the last) joins its neighbour: a
# stranger's track had opened on a 22 ms "C:maj" (0.000-0.022 s), which the page's readout showed at 0:00.0
MIN_EDGE_SEGMENT_SECONDS = 0.1
MAJOR_DIATONIC = {(0, "maj"), (2, "min"), (4, "min"), (5, "maj"), (7, "maj"), (7, "7"), (9, "min")}
MINOR_DIATONIC = {(0, "min"), (3, "maj"), (5, "min"), (7, "maj"), (7, "7"), (8, "maj"), (10, "maj"), (7, "min")}


def chord_vocabulary() -> list[tuple[int, str]]:
    return [(root, q) for q in QUALITIES for root in range(12)]


def chord_label(root: int, quality: str) -> str:
    return f"{PITCH_NAMES[root]}:{quality}"


def templates() -> np.ndarray:
    """(36, 12) unit-norm templates, rows ordered as chord_vocabulary()."""
    rows = []
    for root, q in chord_vocabulary():
        t = np.zeros(12)
        for iv in QUALITIES[q]:
            for h in range(1, N_HARMONICS + 1):
                pc = (root + iv + int(round(12 * np.log2(h)))) % 12
                t[pc] += HARMONIC_DECAY ** (h - 1)
        rows.append(t / np.linalg.norm(t))
    return np.array(rows)


def decode_chords(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray,
                  beat_times: np.ndarray, *, duration: float, key_index: int | None = None) -> list[dict]:
    """Chord timeline [{start, end, label}] with changes on beats.

    chroma, bass: (12, T) frame features; energy: (T,); beat_times: (B,) seconds.
    Without beats (e.g. no rhythm found), fixed 0.5 s segments are used.
    """
    seg = _segments(chroma, bass, energy, frame_times, beat_times, duration=duration)
    if seg is None:
        return []
    bounds, c, b, e = seg
    cn = c / (np.linalg.norm(c, axis=0, keepdims=True) + 1e-9)
    bn = b / (np.linalg.norm(b, axis=0, keepdims=True) + 1e-9)
    vocab = chord_vocabulary()
    sim = templates() @ cn  # (36, S)
    roots = np.array([r for r, _ in vocab])
    sim = sim + BASS_WEIGHT * (bn[roots] - bn.mean(axis=0, keepdims=True))
    sim[[i for i, (_, q) in enumerate(vocab) if q == "7"]] -= SEVENTH_PENALTY
    if key_index is not None:
        tonic, minor = key_index % 12, key_index >= 12
        diatonic = MINOR_DIATONIC if minor else MAJOR_DIATONIC
        for i, (r, q) in enumerate(vocab):
            if ((r - tonic) % 12, q) in diatonic:
                sim[i] += DIATONIC_BONUS
    # "N": a constant similarity level that wins only when no template fits, or forced on quiet beats
    n_sim = np.full((1, sim.shape[1]), 0.45)
    n_sim[0, _quiet(e)] = 10.0
    return _decode(EMISSION_SHARPNESS * np.vstack([sim, n_sim]), bounds, stay=CHORD_STAY)


def decode_chords_learned(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray,
                          beat_times: np.ndarray, *, duration: float, key_index: int | None = None,
                          weights: dict[str, np.ndarray] | None = None) -> list[dict]:
    """Like decode_chords, with chordmodel's learned emissions (falls back to the templates without weights)."""
    w = weights if weights is not None else chordmodel.load_weights()
    if w is None:
        return decode_chords(chroma, bass, energy, frame_times, beat_times, duration=duration, key_index=key_index)
    seg = _segments(chroma, bass, energy, frame_times, beat_times, duration=duration, every_one_heard=True)
    if seg is None:
        return []
    bounds, c, b, e = seg
    log_emit = float(w["sharpness"]) * chordmodel.log_posteriors(w, c, b, e, key_index=key_index)
    quiet = _quiet(e)
    log_emit[-1, quiet] = 0.0  # quiet beats: N, as in decode_chords
    log_emit[:-1, quiet] = -1e3
    return _decode(log_emit, bounds, stay=float(w["stay"]))


def _quiet(e: np.ndarray) -> np.ndarray:
    """Segments whose harmonic energy is under NO_CHORD_LEVEL of the median: "N" whatever the chroma says."""
    ref = float(np.median(e[e > 0])) if np.any(e > 0) else 0.0
    return e <= NO_CHORD_LEVEL * ref


def _decode(log_emit: np.ndarray, bounds: np.ndarray, *, stay: float) -> list[dict]:
    """Viterbi over the chord states (the last is "N") with a uniform change probability, as a timeline."""
    n_states = log_emit.shape[0]
    trans = np.full((n_states, n_states), np.log((1 - stay) / (n_states - 1)))
    np.fill_diagonal(trans, np.log(stay))
    return _timeline(viterbi(log_emit, trans, np.full(n_states, -np.log(n_states))), bounds)


def _segments(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray,
              beat_times: np.ndarray, *, duration: float, every_one_heard: bool = False
              ) -> tuple[np.ndarray, ...] | None:
    """Segment bounds (beats, or 0.5 s without them) and beat-synchronous treble, bass and energy; with
    `every_one_heard`, no segment starts after the last chroma frame (the chords a user reads). The key model's
    chords keep the segments it was fitted on: without them a 20 s A major triad and a C major I-IV-V7 had read
    D major and C minor."""
    if duration <= 0 or chroma.shape[1] == 0:
        return None
    if len(beat_times) >= 2:
        bounds = np.concatenate([[0.0], beat_times, [duration]])
    else:
        bounds = np.arange(0.0, duration + 0.5, 0.5)
        bounds[-1] = duration
    bounds = np.unique(np.clip(bounds, 0.0, duration))
    # a segment must hold a chroma frame to be heard: one starting after the last frame (a beat in the final
    # few ms) had no evidence and read "N" for those ms at the very end; its tail belongs to the chord before
    if every_one_heard:
        bounds = np.concatenate([bounds[:-1][bounds[:-1] <= frame_times[-1]], bounds[-1:]])
        if len(bounds) > 2 and bounds[1] - bounds[0] < MIN_EDGE_SEGMENT_SECONDS:
            bounds = np.delete(bounds, 1)
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < MIN_EDGE_SEGMENT_SECONDS:
            bounds = np.delete(bounds, -2)
    if len(bounds) < 2:
        return None
    c = beat_sync(chroma, frame_times, bounds)
    b = beat_sync(bass, frame_times, bounds)
    e = beat_sync(energy[None, :], frame_times, bounds)[0]
    return bounds, c, b, e


def _timeline(path: np.ndarray, bounds: np.ndarray) -> list[dict]:
    vocab = chord_vocabulary()
    labels = [chord_label(*vocab[s]) if s < len(vocab) else "N" for s in path]
    out: list[dict] = []
    for i, lab in enumerate(labels):
        t0, t1 = float(bounds[i]), float(bounds[i + 1])
        if out and out[-1]["label"] == lab:
            out[-1]["end"] = round(t1, 3)
        else:
            out.append({"start": round(t0, 3), "end": round(t1, 3), "label": lab})
    return out
