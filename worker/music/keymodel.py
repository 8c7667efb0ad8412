"""The global key as a small discriminatively trained model over chroma and chord summaries.

Evidence (each row a (12,) pitch-class summary): the whole track's treble and bass chroma (mean
square-rooted frames, as shares of the uniform level); the duration share of maj, min and 7 chords
on each root (chords decoded on 0.5 s segments without a key prior); the first and the last
sounding chord (one-hot on its root, a major-or-7 row and a minor row); and where chords land by a
falling fifth from a major or 7 chord (V -> I, V7 -> i: the cadence motion), as shares of the changes.
Three style numbers ride beside them (`STYLE_FEATURES`): how varied the chord vocabulary is (entropy
of the chord shares), chord changes per second and how many distinct chords sound.

For a candidate key (tonic t, mode m) the rows are rotated so that t is pitch class 0 and scored by
the mode's scorer: a linear term (the profile method with profiles learned for telling keys apart)
plus a one-hidden-layer term that sees the style numbers too. The hidden layer is what lets one
model weigh the evidence by the music: a through-composed piece with a varied chord vocabulary (a
chorale) opens and closes on its tonic and cadences into it, while a four-chord pop loop starts on
IV or vi and ends anywhere, so the first and last chords must count for the one and not the other
(as linear rows they lifted chorales and cost pop loops 0.84 -> 0.71-0.79 in cross-validation).
Weights: an ensemble of `members` fits (seeds) of bench/key_fit.py (fit data only, each family
weighted equally); their log-probabilities are averaged and divided by a temperature fitted on the
cross-validation's held-out items (the ensemble alone is surer than it is right), and the softmax is
each key's probability.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .key import PITCH_NAMES, SOUNDING_LEVEL

WEIGHTS = Path(__file__).with_name("key_model.npz")
ROWS = ("treble", "bass", "maj", "min", "7", "first_major", "first_minor", "last_major", "last_minor",
        "cadence_major", "cadence_minor")
N_EVIDENCE = len(ROWS)
STYLE_FEATURES = ("chord_entropy", "chord_rate", "distinct_chords")
ENTROPY_SCALE = 4.0  # bits: a piece spread evenly over 16 chord labels scores 1
DISTINCT_SCALE = 20.0  # distinct chord labels that score 1
FALLING_FIFTH = 5  # semitones up (= a fifth down) from one chord root to the next: V -> I
DOMINANT = 7  # semitones from a key's tonic up to its dominant's
# The opening read on its own (key.py's `opening`): the first OPENING_SECONDS after the music starts, on tracks
# whose music lasts at least OPENING_MIN_SHARE_OF times as long (shorter ones are mostly their opening).
OPENING_SECONDS = 12.0
OPENING_MIN_SHARE_OF = 2.0
# The home key (home_key): through-composed music (a chorale, a classical movement) opens on its tonic chord and
# often moves to its dominant key for a while; an excerpt cut there reads, as a whole, in the dominant. Where the
# first sounding chord is the tonic triad of the key a fifth below the model's top key, that key is reported if the
# model gives it at least HOME_KEY_RATIO of its top key's probability and the chord vocabulary is varied (chord
# entropy, STYLE_FEATURES[0], at least HOME_KEY_MIN_ENTROPY: a four-chord loop that starts on IV is not a piece in
# IV). Both chosen by bench/key_fit.py's grouped cross-validation on fit data (docs/music_accuracy.md, "The home
# key"); HOME_KEY_RATIO = 0 turns the rule off.
HOME_KEY_RATIO = 0.1
HOME_KEY_MIN_ENTROPY = 0.7


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


def key_free_chords(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray
                    ) -> list[tuple[int | None, str | None, float, float]]:
    """(root 0-11 or None for "N", quality, start, end) of the chords decoded without a key prior."""
    from .chords import decode_chords

    duration = float(frame_times[-1] + (frame_times[1] - frame_times[0])) if len(frame_times) > 1 else 0.0
    if duration <= 0:
        return []
    out: list[tuple[int | None, str | None, float, float]] = []
    for ch in decode_chords(chroma, bass, energy, frame_times, np.zeros(0), duration=duration):
        root, _, quality = ch["label"].partition(":")
        if root in PITCH_NAMES:
            out.append((PITCH_NAMES.index(root), quality, ch["start"], ch["end"]))
        else:
            out.append((None, None, ch["start"], ch["end"]))
    return out


def chord_evidence(chords: list[tuple[int | None, str | None, float, float]], duration: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(9, 12) chord rows (ROWS[2:]) and the (3,) style numbers, from key_free_chords' chords.

    Chords tell keys apart where pitch-class totals do not: F C G Am holds a G *major* chord,
    which F major does not have, whichever chord the loop starts on."""
    from .chords import QUALITIES

    qualities = list(QUALITIES)
    hist = np.zeros((len(qualities), 12))
    ends = np.zeros((4, 12))  # first major-or-7, first minor, last major-or-7, last minor
    cadence = np.zeros((2, 12))
    sounding = [(r, q, s, e) for r, q, s, e in chords if r is not None and q is not None]
    for root, quality, start, end in sounding:
        hist[qualities.index(quality), root] += end - start
    total = hist.sum()
    hist = 12.0 * hist / total if total > 0 else hist
    if sounding:
        ends[0 if sounding[0][1] != "min" else 1, sounding[0][0]] = 1.0
        ends[2 if sounding[-1][1] != "min" else 3, sounding[-1][0]] = 1.0
    for a, b in zip(chords, chords[1:], strict=False):  # consecutive pairs
        if a[0] is not None and b[0] is not None and (b[0] - a[0]) % 12 == FALLING_FIFTH and a[1] != "min":
            cadence[0 if b[1] != "min" else 1, b[0]] += 1.0
    cadence = 12.0 * cadence / max(1, len(chords) - 1)
    p = hist[hist > 0] / 12.0  # each chord label's share of the sounding time
    entropy = float(-(p * np.log2(p + 1e-12)).sum())
    style = np.array([entropy / ENTROPY_SCALE, len(sounding) / max(duration, 1e-6), p.size / DISTINCT_SCALE])
    return np.concatenate([hist, ends, cadence]), style


def evidence(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(N_EVIDENCE, 12) rows (ROWS) and the (3,) style numbers (STYLE_FEATURES)."""
    duration = float(frame_times[-1]) if len(frame_times) else 0.0
    rows, style = chord_evidence(key_free_chords(chroma, bass, energy, frame_times), duration)
    return np.concatenate([np.array([_summary(chroma), _summary(bass)]), rows]), style


def opening_span(energy: np.ndarray, frame_times: np.ndarray, seconds: float) -> tuple[int, int]:
    """Frames [a, b) of the first `seconds` after the music starts sounding (frame energy above SOUNDING_LEVEL
    times the median energy of the frames that have any)."""
    loud = energy[energy > 0]
    sounding = np.flatnonzero(energy > SOUNDING_LEVEL * float(np.median(loud))) if loud.size else np.zeros(0, int)
    start = int(sounding[0]) if sounding.size else 0
    step = float(frame_times[1] - frame_times[0]) if len(frame_times) > 1 else 1.0
    return start, min(len(frame_times), start + max(1, int(round(seconds / step))))


def rotated(ev: np.ndarray) -> np.ndarray:
    """(12, N_EVIDENCE * 12): the evidence rotated so that each tonic is pitch class 0."""
    return np.stack([np.roll(ev, -t, axis=1).ravel() for t in range(12)])


def key_log_probabilities(ev: np.ndarray, style: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """(24,) log-probabilities (0-11 major C..B, 12-23 minor C..B): the members' mean log-softmax over the
    temperature, renormalised (a tempered geometric mean of the members' distributions)."""
    x = rotated(ev)  # (12, D)
    z = np.concatenate([x, np.broadcast_to(style, (12, len(style)))], axis=1)  # (12, D + 3)
    out = []
    for s in range(weights["lin_w"].shape[0]):
        logits = []
        for m in (0, 1):
            hidden = np.maximum(z @ weights["h_w"][s, m].T + weights["h_b"][s, m], 0.0)
            logits.append(x @ weights["lin_w"][s, m] + weights["lin_b"][s, m]
                          + hidden @ weights["o_w"][s, m] + weights["o_b"][s, m])
        out.append(log_softmax(np.concatenate(logits)))
    temperature = float(weights["temperature"][0]) if "temperature" in weights else 1.0  # none while fitting
    return log_softmax(np.mean(out, axis=0) / temperature)


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def key_probabilities(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray
                      ) -> np.ndarray | None:
    """(24,) probability of each key, or None without weights or frames."""
    reading = key_reading(chroma, bass, energy, frame_times)
    return None if reading is None else reading[0]


def key_reading(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray
                ) -> tuple[np.ndarray, int | None] | None:
    """((24,) probability of each key, the home key's index or None: home_key), or None without weights or frames."""
    weights = load_weights()
    if weights is None or chroma.shape[1] == 0:
        return None
    ev, style = evidence(chroma, bass, energy, frame_times)
    z = key_log_probabilities(ev, style, weights)
    p = np.exp(z - z.max())
    p = p / p.sum()
    return p, home_key(p, ev, style)


def opening_chord_key(ev: np.ndarray) -> int | None:
    """The key index (0-11 major, 12-23 minor) whose tonic triad is the first sounding chord of evidence rows `ev`
    (a 7 chord counts as major), or None where no chord sounds."""
    first_major, first_minor = ev[ROWS.index("first_major")], ev[ROWS.index("first_minor")]
    if first_major.max() > 0:
        return int(np.argmax(first_major))
    if first_minor.max() > 0:
        return 12 + int(np.argmax(first_minor))
    return None


def home_key(probs: np.ndarray, ev: np.ndarray, style: np.ndarray) -> int | None:
    """The key to report instead of the most probable one, or None: the key whose tonic chord opens the music where
    the most probable key is its dominant key (same mode, a fifth up), the chord vocabulary is a through-composed
    piece's and the model gives it at least HOME_KEY_RATIO of the top key's probability (see HOME_KEY_RATIO)."""
    top, home = int(np.argmax(probs)), opening_chord_key(ev)
    if home is None or HOME_KEY_RATIO <= 0 or float(style[0]) < HOME_KEY_MIN_ENTROPY:
        return None
    if home // 12 != top // 12 or (top - home) % 12 != DOMINANT:  # top: home's dominant key, same mode
        return None
    return home if probs[home] >= HOME_KEY_RATIO * probs[top] else None


def opening_evidence(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray,
                     seconds: float = OPENING_SECONDS) -> tuple[np.ndarray, np.ndarray]:
    """evidence() of the first `seconds` after the music starts (opening_span), on the opening's own clock."""
    a, b = opening_span(energy, frame_times, seconds)
    times = frame_times[a:b] - frame_times[a]  # evidence reads the duration from the times
    return evidence(chroma[:, a:b], bass[:, a:b], energy[a:b], times)


def opening_probabilities(chroma: np.ndarray, bass: np.ndarray, energy: np.ndarray, frame_times: np.ndarray,
                          weights: dict[str, np.ndarray] | None = None) -> np.ndarray | None:
    """(24,) probability of each key from the first OPENING_SECONDS after the music starts alone, or None without
    weights or when the music after its start lasts less than OPENING_MIN_SHARE_OF times that. weights: the
    shipped ones unless given (bench/key_opening.py reads with cross-validation folds' models)."""
    weights = load_weights() if weights is None else weights
    if weights is None or len(frame_times) < 2:
        return None
    a, _ = opening_span(energy, frame_times, OPENING_SECONDS)
    if float(frame_times[-1] - frame_times[a]) < OPENING_MIN_SHARE_OF * OPENING_SECONDS:
        return None
    z = key_log_probabilities(*opening_evidence(chroma, bass, energy, frame_times), weights)
    p = np.exp(z - z.max())
    return p / p.sum()
