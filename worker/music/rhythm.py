"""Tempo, beats, downbeats and metre.

With the beat network's weights (beatnet.py, shipped) the activations of a small TCN decide
tempo, beats, bars and compound metre (beats.py). Without them, or as a reference, the DSP
path below runs:

- Onset strength: log-mel spectral flux in two bands (the low band: kick, bass, chord
  attacks) plus a tuned semitone-resolution flux that catches soft-attack note changes.
- Tempo: a comb over the onset autocorrelation (a period gathers evidence from its
  multiples too) times a log-normal tempo prior, both tuned on the train split.
- Beats: dynamic programming (Ellis 2007) at that tempo.
- Slow attacks: strings, choirs and pads reach their level 100-300 ms after the note
  starts, so on legato passages the flux peaks (and the DP's beats) lag the notes by up
  to half a beat. When the first note is such a slow attack and the tracked beats keep a
  steady period, the beats become a grid at that period anchored at the first attack,
  which is the one onset whose start is unambiguous (it rises from silence).
- Bars: each metre (3 or 4) and phase is scored by how strongly harmonic changes fall on
  its first beats (and snare-like high-band onsets off them), and by how much each bar holds
  one harmony: chords and bass notes tend to last whole bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import beatnet
from . import beats as beats_mod
from .beat_tracking import anchor_to_first_attack, track_beats
from .chroma import SR
from .onsets import ONSET_HOP, OnsetFeatures

MIN_BPM, MAX_BPM = 40.0, 240.0
PRIOR_BPM = 130.0  # centre of the log-normal tempo prior (grid-searched on the train split)
PRIOR_OCTAVES = 1.5  # its width (standard deviation, in octaves)
COMB_WEIGHTS = (1.0, 0.5, 0.33, 0.25)  # weights of periods 1x..4x in the comb
LOW_BAND_WEIGHT = 0.5
PITCH_WEIGHT_TEMPO = 1.0  # weight of the pitch flux in the tempo envelope (train split)
PITCH_WEIGHT_BEATS = 8.0  # ... and in the beat-tracking envelope (train split)
HALF_WEIGHT = -0.5  # weight of the half-period autocorrelation (train split: < 0, i.e. busy subdivisions are not beats)
# downbeat accents (train split; low-band onsets and bass changes were fitted too and got weight 0)
HIGH_ACCENT_WEIGHT = -0.5  # snare-like high-band onsets fall off the downbeat
CHANGE_ACCENT_WEIGHT = 2.0  # chords change on it
HOMOGENEITY_WEIGHTS = {"chroma": 2.0, "bass": 0.5}  # bars holding one harmony (train split)
HOMOGENEITY_SCALE = 10.0  # cosine-similarity differences between phases are ~0.05: bring them to z units
FOUR_FOUR_BIAS = 0.6  # score 4/4 is given over 3/4: it is far more common (train split)
MIN_TEMPO_CONFIDENCE = 0.03  # comb score below which no tempo is reported (white noise: ~0.04 on 20 s)
NOISE_CONFIDENCE = 0.1  # plus this / sqrt(seconds): short noise clips have higher chance peaks


@dataclass
class Rhythm:
    tempo_bpm: float | None
    beat_times: np.ndarray
    downbeat_times: np.ndarray
    time_signature: int | None
    onset_env: np.ndarray  # (T,) at ONSET_HOP / SR s per frame
    tempo_confidence: float
    compound: bool = False  # the beat divides in three (6/8, 12/8, shuffle)
    warnings: list[str] = field(default_factory=list)


def estimate_tempo(env: np.ndarray, *, sr: int = SR, prior_bpm: float = PRIOR_BPM,
                   prior_octaves: float = PRIOR_OCTAVES, half_weight: float = HALF_WEIGHT
                   ) -> tuple[float | None, float, np.ndarray]:
    """(tempo BPM or None, confidence 0..1, (n_lags,) comb score) from an onset envelope."""
    fps = sr / ONSET_HOP
    n = len(env)
    max_lag = int(fps * 60.0 / MIN_BPM * len(COMB_WEIGHTS)) + 2
    if n < int(fps * 60.0 / MIN_BPM) * 2 or not np.any(env > 0):
        return None, 0.0, np.zeros(0)
    x = env - env.mean()
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(x, nfft)
    ac = np.fft.irfft(spec * np.conj(spec), nfft)[: min(max_lag, n)]
    ac = ac / (ac[0] + 1e-10)
    ac = ac / np.maximum(1.0 - np.arange(len(ac)) / n, 0.25)  # unbiased: long lags have fewer products
    lags = np.arange(len(ac), dtype=np.float64)
    min_lag, top_lag = int(fps * 60.0 / MAX_BPM), int(fps * 60.0 / MIN_BPM)
    cand = np.arange(max(min_lag, 2), min(top_lag, len(ac) - 1))
    score = np.zeros(len(cand))
    for k, w in enumerate(COMB_WEIGHTS, start=1):
        idx = cand * k
        ok = idx < len(ac) - 1
        # a peak may sit between two lag samples: take the best of the neighbours
        last = len(ac) - 1
        vals = np.maximum(np.maximum(ac[np.clip(idx, 0, last)], ac[np.clip(idx + 1, 0, last)]),
                          ac[np.clip(idx - 1, 0, last)])
        score += w * np.where(ok, vals, 0.0)
    if half_weight:
        half = cand / 2.0
        lo = np.floor(half).astype(int)
        score += half_weight * np.maximum(ac[np.clip(lo, 0, len(ac) - 1)], ac[np.clip(lo + 1, 0, len(ac) - 1)])
    bpm = 60.0 * fps / lags[cand]
    prior = np.exp(-0.5 * (np.log2(bpm / prior_bpm) / prior_octaves) ** 2)
    total = np.maximum(score, 0.0) * prior
    if not np.any(total > 0):
        return None, 0.0, total
    i = int(np.argmax(total))
    # parabolic refinement of the peak lag
    lag = float(cand[i])
    if 0 < i < len(total) - 1:
        a, b, c = total[i - 1], total[i], total[i + 1]
        d = a - 2 * b + c
        if d < 0:
            lag += 0.5 * (a - c) / d
    conf = float(np.clip(score[i] / (np.sum(COMB_WEIGHTS)), 0.0, 1.0))
    return 60.0 * fps / lag, conf, total


def bar_positions(beat_times: np.ndarray, full_env: np.ndarray, low_env: np.ndarray,
                  beat_chroma: np.ndarray | None = None, beat_bass: np.ndarray | None = None,
                  *, sr: int = SR) -> tuple[int | None, int]:
    """(beats per bar in {3, 4}, index of the first downbeat) or (None, 0) with too few beats.

    Each metre and phase is scored by (a) the accent of its first beats: harmonic changes
    minus high-band onsets (snare on 2 and 4), and (b) how much each of its bars holds
    one harmony, relative to the other phases of the same metre. Weights fit on the train split.
    beat_chroma, beat_bass: (12, len(beat_times) + 1) unit-norm chroma of the span before the
    first beat and of each beat (from `beat_chroma`), or None.
    """
    n = len(beat_times)
    if n < 8:
        return None, 0
    frames = np.minimum((beat_times * sr / ONSET_HOP).astype(int), len(low_env) - 1)

    def near_max(env: np.ndarray) -> np.ndarray:  # strongest value within +-2 frames of each beat
        padded = np.pad(env, 2, mode="edge")
        return np.max(np.stack([padded[frames + k] for k in range(5)]), axis=0)

    accent = HIGH_ACCENT_WEIGHT * beats_mod.zscore(near_max(full_env) - near_max(low_env))
    if beat_chroma is not None and beat_chroma.shape[1] == n + 1:
        change = 1.0 - np.sum(beat_chroma[:, :-1] * beat_chroma[:, 1:], axis=0)  # at each beat: before vs after
        accent = accent + CHANGE_ACCENT_WEIGHT * beats_mod.zscore(change)
    harmonies = {name: seg[:, 1:] for name, seg in (("chroma", beat_chroma), ("bass", beat_bass))
                 if seg is not None and seg.shape[1] == n + 1}
    scores = {}
    for meter in (4, 3):
        homogeneity = {name: np.array([_bar_homogeneity(seg, meter, phase) for phase in range(meter)])
                       for name, seg in harmonies.items()}
        for phase in range(meter):
            on = accent[phase::meter]
            off = np.delete(accent, np.arange(phase, n, meter))
            s = float(on.mean() - off.mean()) + (FOUR_FOUR_BIAS if meter == 4 else 0.0)
            for name, h in homogeneity.items():
                s += HOMOGENEITY_WEIGHTS[name] * HOMOGENEITY_SCALE * float(h[phase] - h.mean())
            scores[(meter, phase)] = s
    meter, phase = max(scores, key=lambda mp: scores[mp])
    return meter, phase


def harmony_bar_scores(beat_chroma: np.ndarray | None, beat_bass: np.ndarray | None, n: int,
                       metres: tuple[int, ...]) -> dict[tuple[int, int], float]:
    """Harmonic evidence per (beats per bar, phase): chord changes on its first beats, and bars that
    hold one harmony (chroma and bass), in the units `bar_positions` adds them with; {} without chroma."""
    if beat_chroma is None or beat_chroma.shape[1] != n + 1 or n < 8:
        return {}
    change = beats_mod.zscore(1.0 - np.sum(beat_chroma[:, :-1] * beat_chroma[:, 1:], axis=0))
    harmonies = {name: seg[:, 1:] for name, seg in (("chroma", beat_chroma), ("bass", beat_bass))
                 if seg is not None and seg.shape[1] == n + 1}
    scores = {}
    for metre in metres:
        homogeneity = {name: np.array([_bar_homogeneity(seg, metre, phase) for phase in range(metre)])
                       for name, seg in harmonies.items()}
        for phase in range(metre):
            on = change[phase::metre]
            off = np.delete(change, np.arange(phase, n, metre))
            s = CHANGE_ACCENT_WEIGHT * float(on.mean() - off.mean())
            for name, h in homogeneity.items():
                s += HOMOGENEITY_WEIGHTS[name] * HOMOGENEITY_SCALE * float(h[phase] - h.mean())
            scores[(metre, phase)] = s
    return scores


def _bar_homogeneity(seg: np.ndarray, meter: int, phase: int) -> float:
    """Mean cosine similarity of each beat's chroma to its bar's mean, for bars starting at `phase`."""
    n = seg.shape[1]
    starts = np.arange(phase, n - meter + 1, meter)
    if len(starts) == 0:
        return 0.0
    bars = np.stack([seg[:, s : s + meter] for s in starts])  # (bars, 12, meter)
    mean = bars.mean(axis=2)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True) + 1e-9
    return float(np.mean(np.einsum("bc,bcm->bm", mean, bars)))


def analyze_rhythm(onsets: OnsetFeatures, *, duration: float, chroma: np.ndarray | None = None,
                   bass: np.ndarray | None = None, chroma_times: np.ndarray | None = None,
                   activations: np.ndarray | None = None) -> Rhythm:
    """Tempo, beats, downbeats and metre from the onset features of a `duration`-second signal.

    chroma, bass, chroma_times: the (12, T) harmonic and bass chroma, used to find bar starts
    from chord and bass changes. activations: the beat network's output on `onsets.logmel`, where the caller
    has it already (the speech check), so that it is not computed twice.
    """
    full, low, pitch, attack = onsets.full, onsets.low, onsets.pitch, onsets.attack
    sr = SR
    base = full + LOW_BAND_WEIGHT * low
    env = base + PITCH_WEIGHT_TEMPO * pitch
    act = activations
    if act is None and onsets.logmel is not None:
        act = beatnet.activations(onsets.logmel)
    if act is not None:
        def harmony(beats: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            if chroma is None or chroma_times is None or len(beats) < 2:
                return None, None
            return (beat_chroma(beats, chroma, chroma_times),
                    None if bass is None else beat_chroma(beats, bass, chroma_times))

        net = beats_mod.decode(act, duration=duration, harmony=harmony, envelopes=[full, low, pitch],
                               silent=onsets.silent)
        if (onsets.top_hz is not None and onsets.logmel is not None and net.tempo_bpm is not None
                and net.tempo_bpm < beats_mod.SLOW_TEMPO_BPM):
            # a slow reading of a source under 16 kHz: the hi-hats the network knows by its empty top bands may have
            # been the beats between the ones it heard; it is heard again with those bands filled (beatnet.py)
            filled = beatnet.activations(onsets.logmel, top_hz=onsets.top_hz)
            if filled is not None:
                again = beats_mod.decode(filled, duration=duration, harmony=harmony, envelopes=[full, low, pitch],
                                         silent=onsets.silent)
                if again.tempo_bpm is not None and again.tempo_bpm >= beats_mod.SLOW_TEMPO_BPM:
                    act, net = filled, again
        return Rhythm(net.tempo_bpm, net.beat_times, net.downbeat_times, net.beats_per_bar, act[0],
                      net.tempo_confidence if net.tempo_bpm else 0.0, net.compound, net.warnings)
    tempo, conf, _ = estimate_tempo(env, sr=sr)
    seconds = duration
    # an onset autocorrelation of noise has chance peaks whose height shrinks with length
    if tempo is not None and conf < MIN_TEMPO_CONFIDENCE + NOISE_CONFIDENCE / np.sqrt(max(seconds, 1.0)):
        tempo = None
    if tempo is None:
        return Rhythm(None, np.zeros(0), np.zeros(0), None, env, 0.0)
    beats = anchor_to_first_attack(track_beats(base + PITCH_WEIGHT_BEATS * pitch, tempo, sr=sr), attack)
    beat_harmony = beat_bass = None
    if chroma is not None and chroma_times is not None and len(beats) > 1:
        beat_harmony = beat_chroma(beats, chroma, chroma_times)
        if bass is not None:
            beat_bass = beat_chroma(beats, bass, chroma_times)
    meter, phase = bar_positions(beats, full, low, beat_harmony, beat_bass, sr=sr)
    downbeats = beats[phase::meter] if meter else np.zeros(0)
    return Rhythm(float(tempo), beats, downbeats, meter, env, conf)


def beat_chroma(beats: np.ndarray, chroma: np.ndarray, chroma_times: np.ndarray) -> np.ndarray:
    """(12, len(beats) + 1) unit-norm mean chroma of the beat-long span before the first beat and of each beat
    (the last one a period long)."""
    from .chroma import beat_sync

    first = max(0.0, beats[0] - (beats[1] - beats[0]))
    bounds = np.concatenate([[first], beats, [beats[-1] + (beats[-1] - beats[-2])]])
    seg = beat_sync(chroma, chroma_times, bounds)
    return seg / (np.linalg.norm(seg, axis=0, keepdims=True) + 1e-9)
