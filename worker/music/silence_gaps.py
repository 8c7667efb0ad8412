"""Long silences inside (or before, or after) the music: where they lie in the beat activation, the activation with
them cut out, and the beats without those inside them.

A silence is a stretch of at least GAP_SECONDS of onset frames whose RMS is below onsets.SILENCE_RMS, the level
below which the pipeline takes a whole input for silence (OnsetFeatures.silent). The beat activation's own "sounding"
level (beats.ACTIVE_LEVEL) is no silence: quiet passages and beat-less swells of real tracks stay under it for 5-20 s
(colobot music007, 19 s at -40 dB; Wesnoth's battle-epic, 8 s at -33 dB), and their beats and confidence stay as
they were. Two things went wrong there:
- beats: the tracker's dynamic programme (beat_tracking.track_beats) bridges any stretch without onsets at the
  period, so a stranger's two game tracks with 120 s of digital silence between them got 228 beats, bar lines and a
  beat grid in the silence (silence before the first beat was already left out: beat_tracking._trim_weak drops
  weak beats at the ends only). The beats are still tracked over the whole activation and those inside a silence are
  dropped: the tracker's beats either side stay exactly what they were, where tracking each part alone would give
  each part a DP start and end of its own (and a second tempo to report).
- tempo confidence: the comb (rhythm.estimate_tempo) reads the autocorrelation of the activation less its mean; a
  silence is a long constant stretch below the mean whose products add about the same to every lag and to lag 0,
  so every normalised lag moves towards 1 and the comb scores higher (battle-epic.ogg 0.16, the same track after
  150 s of silence 0.27). The tempo is read on the activation with its silences cut out.
Audio with no such stretch is left exactly as it was (the activation is passed on unchanged).
"""

from __future__ import annotations

import numpy as np

from .onsets import FPS

# a silence lasts at least this long: a rest, a break or the digital silence between two loops of a game track is
# shorter, and stays what it was (the tracker bridges it at the period, as a musician counts through it)
GAP_SECONDS = 5.0


def silent_runs(silent: np.ndarray | None, n: int) -> list[tuple[int, int]]:
    """[(start, stop)) frames (of n) where the (T,) `silent` frames (OnsetFeatures.silent) last at least GAP_SECONDS."""
    if silent is None or not np.any(silent):
        return []
    quiet = np.zeros(n + 2, dtype=np.int8)
    m = min(n, len(silent))
    quiet[1 : m + 1] = silent[:m]
    edges = np.flatnonzero(np.diff(quiet))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= GAP_SECONDS * FPS]


def cut_out(act: np.ndarray, runs: list[tuple[int, int]]) -> np.ndarray:
    """`act` (..., T) without the frames of `runs`; `act` itself where there are none."""
    if not runs:
        return act
    keep = np.ones(act.shape[-1], dtype=bool)
    for a, b in runs:
        keep[a:b] = False
    return act[..., keep]


def outside(beats: np.ndarray, runs: list[tuple[int, int]]) -> np.ndarray:
    """The beats (s) whose frame does not lie inside one of `runs`."""
    if not runs or len(beats) == 0:
        return beats
    frames = np.round(beats * FPS)
    inside = np.zeros(len(beats), dtype=bool)
    for a, b in runs:
        inside |= (frames >= a) & (frames < b)
    return beats[~inside]
