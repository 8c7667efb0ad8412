"""The audio descriptors tracks are compared by (GET /library/tracks/<id>/similar), and their weights.

Each track stores a float32 vector in DESCRIPTORS' order (NaN where its session measured nothing). At query
time every dimension is standardised over the owner's library (z-score: a dimension measured in Hz weighs
no more than one measured in dB), and each group is scaled so that it contributes its weight whatever its
number of dimensions:

    timbre  0.45  MFCC 1-13 means and standard deviations, spectral centroid, bandwidth, roll-off,
                  zero-crossing rate (features job)
    harmony 0.30  the 12-bin chroma distribution (features job)
    rhythm  0.15  log2 of the tempo, beats per bar (pitch job)
    energy  0.10  RMS level, crest factor, integrated loudness, silence fraction (features job)

The distance to a seed is Euclidean over the weighted dimensions the seed measured. Where the other track lacks
one, its value is unknown and the dimension costs what a track drawn from the library would cost on average:
(seed - mean)^2 + variance, which is the weighted seed value squared plus the dimension's `unknown_gap` (its
weight share). Filling the mean alone had cost only the first term, so a track with a pitch result alone sat
nearer a seed than its own re-encoded copy in a small library; now a re-encoded copy lands next to it, and a
track that measured less is as far as an average track on what it lacks. In a small library of distinct tracks
an average track is nearer than most real ones, so a track that measured less than the seed is listed after
every track that measured as much (`compared_share` below 1: a stranger's 6 s speech clip run through pitch
alone came first for a song among songs). A track that measured none of the seed's descriptors is not a
neighbour (library/search.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

N_MFCC = 13
STD_FLOOR = 1e-9  # a dimension whose deviation over the library is below this is constant: it weighs nothing
COMPARED_IN_FULL = 1.0 - 1e-6  # a compared_share at least this: the track measured every descriptor the seed did
GROUP_WEIGHTS = {"timbre": 0.45, "harmony": 0.30, "rhythm": 0.15, "energy": 0.10}
DESCRIPTORS: tuple[tuple[str, str], ...] = (
    *((f"mfcc_mean_{i}", "timbre") for i in range(N_MFCC)),
    *((f"mfcc_std_{i}", "timbre") for i in range(N_MFCC)),
    ("spectral_centroid_hz", "timbre"), ("spectral_bandwidth_hz", "timbre"), ("spectral_rolloff_hz", "timbre"),
    ("zero_crossing_rate", "timbre"),
    *((f"chroma_{i}", "harmony") for i in range(12)),
    ("log2_tempo", "rhythm"), ("beats_per_bar", "rhythm"),
    ("rms_dbfs", "energy"), ("crest_factor_db", "energy"), ("loudness_lufs", "energy"),
    ("silence_fraction", "energy"),
)
NAMES = tuple(name for name, _ in DESCRIPTORS)


def descriptor_values(*, features: Mapping[str, Any] | None, pitch: Mapping[str, Any] | None) -> dict[str, float]:
    """The named descriptors a track's results give (absent ones left out)."""
    out: dict[str, float] = {}
    audio = (features or {}).get("audio_features") or {}
    mfcc = audio.get("mfcc") or {}
    for part in ("mean", "std"):
        for i, v in enumerate((mfcc.get(part) or [])[:N_MFCC]):
            _put(out, f"mfcc_{part}_{i}", v)
    for name in ("spectral_centroid_hz", "spectral_bandwidth_hz", "spectral_rolloff_hz", "zero_crossing_rate",
                 "rms_dbfs", "crest_factor_db", "loudness_lufs", "silence_fraction"):
        _put(out, name, audio.get(name))
    for i, v in enumerate((audio.get("chroma_distribution") or [])[:12]):
        _put(out, f"chroma_{i}", v)
    if pitch:
        tempo = pitch.get("tempo_bpm")
        if isinstance(tempo, (int, float)) and tempo > 0:
            out["log2_tempo"] = math.log2(float(tempo))
        _put(out, "beats_per_bar", pitch.get("beats_per_bar"))
    return out


def to_vector(values: Mapping[str, float]) -> np.ndarray:
    return np.array([values.get(name, np.nan) for name in NAMES], dtype=np.float32)


def group_scale() -> np.ndarray:
    """Per dimension, the factor that gives each group its weight whatever its number of dimensions."""
    scale = np.empty(len(NAMES))
    for group, weight in GROUP_WEIGHTS.items():
        members = [i for i, (_, g) in enumerate(DESCRIPTORS) if g == group]
        scale[members] = math.sqrt(weight / len(members))
    return scale


def unknown_gap(std: np.ndarray) -> np.ndarray:
    """Per dimension, the squared weighted distance beyond the seed's own deviation that an unknown value costs:
    the dimension's variance after weighting (scale^2; 0 where the library's tracks all measured the same)."""
    return np.where(std > STD_FLOOR, group_scale() ** 2, 0.0)


def weighted_matrix(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tracks, dims) raw vectors -> (standardised, mean-filled, group-weighted rows; unknown_gap per dimension)
    (see the module doc)."""
    x = vectors.astype(np.float64)
    present = ~np.isnan(x)
    counts = present.sum(axis=0)
    mean = np.where(counts > 0, np.nansum(np.where(present, x, 0.0), axis=0) / np.maximum(counts, 1), 0.0)
    centred = np.where(present, x - mean, 0.0)
    std = np.sqrt((centred ** 2).sum(axis=0) / np.maximum(counts, 1))
    z = np.where(std > STD_FLOOR, centred / np.where(std > STD_FLOOR, std, 1.0), 0.0)
    return z * group_scale(), unknown_gap(std)


def compared_weights(seed_has: np.ndarray) -> np.ndarray:
    """Per dimension, its share of the weight of the dimensions the seed measured (`seed_has`, 0/1): a track's
    compared_share is the sum of these over the dimensions it measured too."""
    weight = group_scale() ** 2 * seed_has
    return weight / max(float(weight.sum()), 1e-12)


def compared_shares(raw: np.ndarray, seed: int) -> np.ndarray:
    """Per track, the share (0..1) of the seed's descriptor weight it measured too: 1 for a track analysed as the
    seed was, the rhythm's 0.15 of it for a pitch result alone beside the seed's features and pitch."""
    return (~np.isnan(raw)) @ compared_weights(~np.isnan(raw[seed]))


def distances(weighted: np.ndarray, raw: np.ndarray, gap: np.ndarray, seed: int) -> np.ndarray:
    """Every track's distance to row `seed` over the dimensions the seed measured (see the module doc)."""
    seed_has = ~np.isnan(raw[seed])
    lacks = np.isnan(raw) & seed_has
    return np.sqrt((((weighted - weighted[seed]) * seed_has) ** 2).sum(axis=1) + lacks @ gap)


def _put(out: dict[str, float], name: str, value: Any) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value)):
        out[name] = float(value)
