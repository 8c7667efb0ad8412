"""The global key as a small discriminatively trained model over chroma summaries.

Evidence (each a (12,) pitch-class summary): the whole track's treble and bass chroma (mean
square-rooted frames, as shares of the uniform level) and the duration share of maj, min and
7 chords on each root (chords decoded on 0.5 s segments without a key prior).
For a candidate key (tonic t, mode m) the evidence is rotated so that t is pitch class 0 and
scored with the mode's weight rows: score = sum_i W[m, i] . roll(v_i, -t) + b[m]. This is
the profile method with profiles *learned for telling keys apart* (multinomial logistic
regression over the 24 keys, bench/key_fit.py, fit data only, each family weighted equally),
rather than averaged; its softmax is a calibrated probability of each key.

No opening or closing evidence: pieces that begin or end on the tonic made it tempting, but
pop loops start on IV or vi and often end elsewhere; with it, cross-validated pop-loop key
scores fell from 0.84 to 0.71-0.79 (bench/key_fit.py). The chords carry what the openings were
meant to: F C G Am holds a G *major* chord, which F major does not have.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).with_name("key_model.npz")
N_EVIDENCE = 5  # treble chroma, bass chroma, and the maj / min / 7 chord shares per root


@lru_cache(maxsize=1)
def load_weights(path: Path = WEIGHTS) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _summary(x: np.ndarray) -> np.ndarray:
    v = np.sqrt(np.maximum(x, 0.0)).mean(axis=1) if x.size else np.zeros(12)
    total = float(v.sum())
    return 12.0 * v / total - 1.0 if total > 0 else np.zeros(12)  # 0 = the uniform share


def chord_histogram(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray) -> np.ndarray:
    """(3, 12): share of the time held by maj, min and 7 chords on each root (0.5 s segments), x12.

    Chords tell keys apart where pitch-class totals do not: F C G Am holds a G *major* chord,
    which F major does not have, whichever chord the loop starts on."""
    from .chords import QUALITIES, decode_chords

    duration = float(frame_times[-1] + (frame_times[1] - frame_times[0])) if len(frame_times) > 1 else 0.0
    hist = np.zeros((len(QUALITIES), 12))
    if duration <= 0:
        return hist
    names = {n: i for i, n in enumerate(("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"))}
    for ch in decode_chords(chroma, bass, energy, frame_times, np.zeros(0), duration=duration):
        root, _, quality = ch["label"].partition(":")
        if root in names:
            hist[list(QUALITIES).index(quality), names[root]] += ch["end"] - ch["start"]
    total = hist.sum()
    return 12.0 * hist / total if total > 0 else hist


def evidence(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray) -> np.ndarray:
    """(N_EVIDENCE, 12): whole-track treble and bass chroma, then the chord histogram."""
    sums = np.array([_summary(chroma), _summary(bass)])
    return np.concatenate([sums, chord_histogram(chroma, bass, energy, frame_times)])


def rotated(ev: np.ndarray) -> np.ndarray:
    """(12, N_EVIDENCE * 12): the evidence rotated so that each tonic is pitch class 0."""
    return np.stack([np.roll(ev, -t, axis=1).ravel() for t in range(12)])


def key_logits(ev: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """(24,) scores: 0-11 major C..B, 12-23 minor C..B."""
    x = rotated(ev)
    return np.concatenate([x @ weights["w"][m] + weights["b"][m] for m in (0, 1)])


def key_probabilities(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray
                      ) -> np.ndarray | None:
    """(24,) probability of each key, or None without weights or frames."""
    weights = load_weights()
    if weights is None or chroma.shape[1] == 0:
        return None
    z = key_logits(evidence(chroma, bass, energy, frame_times), weights)
    z = z - z.max()
    p = np.exp(z)
    return p / p.sum()
