"""Chord emissions from a small learned, root-invariant model (bench/chord_train.py).

For each candidate root r the beat's treble and bass chroma (unit norm) are rotated so r is pitch
class 0 and one shared two-layer network scores the qualities maj, min and 7: the same weights
serve all twelve roots, so a chord seen in C teaches F#. The neighbouring beats' rotated chroma
are inputs too (with_context): 72 inputs, 32 hidden units, ~2,500 floats. "N" is scored from root-free evidence
(how peaked the chroma is, how loud the beat is against the track). The detected key adds a
learned bias per (root relative to the tonic, quality, mode): a softer, data-fitted version of
the template decoder's diatonic bonus. Softmax over the 37 states gives the HMM's emissions.

Why not the cosine templates: a template fixes how much each chord tone and harmonic should weigh;
rendered instruments, drums and bass lines disagree with it, and a model fit on labelled beats
(balanced across families and soundfonts) learns the weights instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).with_name("chord_model.npz")
N_QUALITIES = 3  # maj, min, 7 (the order of chords.QUALITIES)
N_STATES = 12 * N_QUALITIES + 1  # rows ordered as chords.chord_vocabulary(), then "N"
EPS = 1e-9


@lru_cache(maxsize=1)
def load_weights(path: Path = WEIGHTS) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    with np.load(path) as z:
        return {k: z[k].astype(np.float64) for k in z.files}


def rooted_features(c: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(S, 12, 24): for each beat and candidate root r, [treble, bass] chroma rotated by -r."""
    cn = c / (np.linalg.norm(c, axis=0, keepdims=True) + EPS)
    bn = b / (np.linalg.norm(b, axis=0, keepdims=True) + EPS)
    idx = (np.arange(12)[:, None] + np.arange(12)[None, :]) % 12  # [r, k] -> pitch class r + k
    return np.concatenate([cn.T[:, idx], bn.T[:, idx]], axis=2)


def with_context(x: np.ndarray) -> np.ndarray:
    """(S, 12, 3F): each beat's rooted features beside its neighbours' (edges repeat): the harmonic
    chroma's 0.5 s time median smears chord changes across beats, the neighbours say which way."""
    prev = np.concatenate([x[:1], x[:-1]], axis=0)
    nxt = np.concatenate([x[1:], x[-1:]], axis=0)
    return np.concatenate([x, prev, nxt], axis=2)


def global_features(c: np.ndarray, b: np.ndarray, e: np.ndarray) -> np.ndarray:
    """(S, 4) root-free evidence for "N": chroma peakiness (treble, bass), log energy vs the track median."""
    cn = c / (np.linalg.norm(c, axis=0, keepdims=True) + EPS)
    bn = b / (np.linalg.norm(b, axis=0, keepdims=True) + EPS)
    ref = float(np.median(e[e > 0])) if np.any(e > 0) else 1.0
    rel = np.log(np.maximum(e, EPS) / max(ref, EPS))
    return np.stack([cn.max(axis=0), bn.max(axis=0), np.clip(rel, -10.0, 3.0), np.ones_like(rel)], axis=1)


def key_bias_index(key_index: int | None) -> np.ndarray | None:
    """(36,) index into the flattened (2, 12, 3) key-bias table for each chord state, or None."""
    if key_index is None:
        return None
    tonic, minor = key_index % 12, int(key_index >= 12)
    q = np.repeat(np.arange(N_QUALITIES), 12)
    r = np.tile(np.arange(12), N_QUALITIES)
    return (minor * 12 + (r - tonic) % 12) * N_QUALITIES + q


def logits(w: dict[str, np.ndarray], c: np.ndarray, b: np.ndarray, e: np.ndarray,
           *, key_index: int | None) -> np.ndarray:
    """(37, S) unnormalised log-scores, rows as chords.chord_vocabulary() then "N"."""
    x = rooted_features(c, b)  # (S, 12, 24)
    if w["w1"].shape[0] == 3 * x.shape[2]:
        x = with_context(x)
    h = np.maximum(x @ w["w1"] + w["b1"], 0.0)  # (S, 12, H)
    q = h @ w["w2"] + w["b2"]  # (S, 12, 3)
    chord = q.transpose(0, 2, 1).reshape(q.shape[0], -1)  # (S, 36): quality-major like the vocabulary
    kb = key_bias_index(key_index)
    if kb is not None:
        chord = chord + w["key_bias"].reshape(-1)[kb]
    n = global_features(c, b, e) @ w["wn"]  # (S,)
    return np.concatenate([chord, n[:, None]], axis=1).T


def log_posteriors(w: dict[str, np.ndarray], c: np.ndarray, b: np.ndarray, e: np.ndarray,
                   *, key_index: int | None) -> np.ndarray:
    z = logits(w, c, b, e, key_index=key_index)
    z = z - z.max(axis=0, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=0, keepdims=True))
