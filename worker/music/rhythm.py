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

import numba
import numpy as np
import scipy.ndimage as ndi

from . import beatnet
from . import beats as beats_mod
from .chroma import SR
from .onsets import FPS, ONSET_HOP, Attack, OnsetFeatures, first_attack  # noqa: F401 (re-exported)

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
BEAT_TIGHTNESS = 100.0  # DP penalty on log-period deviations: constant-tempo material
SLOW_ATTACK_SECONDS = 0.09  # rise to within 6 dB of its peak slower than this: a slow attack (train split)
STEADY_BEAT_RESIDUAL = 0.06  # std of beats about a straight line, in periods, below which the tempo is steady
LOCAL_WINDOW_BEATS = 12  # window (in beats) of the local tempo estimate: long enough for a stable period
LOCAL_RANGE = 1.45  # a local period lies within this factor of the global one (tempo changes up to ~30 %)
LOCAL_MEDIAN = 5  # windows in the median filter of local periods: a fill or a break does not move it
LOCAL_MIN_LEVEL = 0.5  # a window needs this share of the median window's mean activation to be measured
LOCAL_MIN_CHANGE = 0.06  # relative change below which the tempo counts as steady (the fixed-period DP runs)
# the followed beats must sit on more activation than the fixed-period ones: a slow-attack string
# chorale's first seconds fake a 15 % faster period (its followed beats lose 3 %), the fit split's
# tempo steps gain 27-63 %
FOLLOW_MIN_GAIN = 0.1
ANCHOR_AGREEMENT = 0.15  # the DP's first beat must lie this close (in periods) to the first attack


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


def anchor_to_first_attack(beats: np.ndarray, attack: Attack | None) -> np.ndarray:
    """Beats (s) as a steady grid anchored at a slow first attack, or `beats` unchanged.

    Applies only when the first note is a slow attack, the DP's beats keep a steady period
    (their line fit, skipping the first quarter where the DP may still be settling, leaves a
    residual under STEADY_BEAT_RESIDUAL periods) and the DP's first beat agrees with the
    attack: then the later beats sit on late flux peaks and the grid puts them back on the notes.
    """
    if attack is None or attack.rise_seconds < SLOW_ATTACK_SECONDS or len(beats) < 8:
        return beats
    k = np.arange(len(beats))
    skip = len(beats) // 4
    period, phase = np.polyfit(k[skip:], beats[skip:], 1)
    if period <= 0:
        return beats
    residual = float(np.std(beats[skip:] - (phase + k[skip:] * period))) / period
    if residual > STEADY_BEAT_RESIDUAL or abs(beats[0] - attack.start) > ANCHOR_AGREEMENT * period:
        return beats
    n_before = int(np.floor((attack.start - beats[0]) / period + 0.5))
    grid = attack.start + (k - n_before) * period
    return grid[(grid >= attack.start - 1e-6) & (grid <= beats[-1] + period / 2)]


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


def track_beats(env: np.ndarray, tempo_bpm: float, *, sr: int = SR, follow_tempo: bool = False) -> np.ndarray:
    """Beat times (s) by dynamic programming (Ellis 2007).

    Each frame's cumulative score is its onset strength plus the best predecessor score
    between 0.5 and 2 periods back, penalised by the squared log deviation from one period.
    The period is the global tempo's, or with `follow_tempo` the local one (`local_periods`)
    where the tempo steps, ramps or slows down: at the fixed period the DP's tightness cannot
    follow a 20-30 % change and the beats drift off the music. The followed beats replace the
    fixed-period ones only when they sit on FOLLOW_MIN_GAIN more onset strength.
    """
    fps = sr / ONSET_HOP
    period = 60.0 * fps / tempo_bpm
    if len(env) < 2 * period or not np.any(env > 0):
        return np.zeros(0)
    norm = env / (env.std() + 1e-9)
    # smooth with a Gaussian of 1/32 beat so the DP rewards being near an onset, not exactly on it
    local = ndi.gaussian_filter1d(norm.astype(np.float64), sigma=max(period / 32.0, 0.5), mode="constant")
    steady = np.full(len(local), float(period))
    frames = _decode(local, steady, period)
    if follow_tempo and len(frames) > 1:
        # the tempo is measured only between the first and the last beat: the silence or a held
        # final chord after the music has no period, and its chance peaks would bend the last beats
        periods = local_periods(env[frames[0] : frames[-1] + 1], float(period), fps=fps)
        if periods is not None:
            periods = np.concatenate([np.full(frames[0], periods[0]), periods,
                                      np.full(len(local) - frames[-1] - 1, periods[-1])])
            followed = _decode(local, periods, period)
            gain = _beat_strength(followed, local) / max(_beat_strength(frames, local), 1e-9) - 1.0
            if gain >= FOLLOW_MIN_GAIN:
                frames = followed
    return frames * ONSET_HOP / sr


def _beat_strength(frames: np.ndarray, local: np.ndarray) -> float:
    return float(np.mean(local[frames])) if len(frames) else 0.0


def _decode(local: np.ndarray, periods: np.ndarray, period: float) -> np.ndarray:
    """Beat frames: the DP over `local` with a period per frame, traced back from the best last beat."""
    cum, back = _beat_dp(local, periods, BEAT_TIGHTNESS)
    # last beat: the best cumulative score within the final period
    tail = cum[max(0, len(cum) - int(round(period))):]
    t = len(cum) - len(tail) + int(np.argmax(tail))
    beats = [t]
    while back[t] >= 0:
        t = int(back[t])
        beats.append(t)
    return _trim_weak(np.array(beats[::-1]), local)


@numba.njit(cache=True)
def _beat_dp(local, periods, tightness):  # pragma: no cover - compiled
    n = len(local)
    cum = np.zeros(n)
    back = -np.ones(n, dtype=np.int64)
    for t in range(n):
        period = periods[t]
        lo_off = int(round(period / 2))
        hi_off = int(round(2 * period))
        best = -1e30
        arg = -1
        for tau in range(t - hi_off, t - lo_off + 1):
            if tau < 0:
                continue
            d = np.log((t - tau) / period)
            v = cum[tau] - tightness * d * d
            if v > best:
                best = v
                arg = tau
        if arg >= 0 and best > 0:
            cum[t] = local[t] + best
            back[t] = arg
        else:
            cum[t] = local[t]
    return cum, back


def local_periods(env: np.ndarray, period: float, *, fps: float) -> np.ndarray | None:
    """(T,) beat period (frames) per frame following the local tempo, or None where it holds steady.

    In windows of LOCAL_WINDOW_BEATS periods (hop: a quarter of that) the comb of the window's
    autocorrelation (lag plus half weight at twice the lag) picks the best period within
    LOCAL_RANGE of the global one, so a window can neither double nor halve the tempo. Per-window
    estimates are median-filtered over LOCAL_MEDIAN windows; unless they move more than
    LOCAL_MIN_CHANGE from the global period somewhere, the tempo counts as steady (None) and the
    beats stay exactly those of the fixed-period DP.
    """
    n = len(env)
    width = int(round(LOCAL_WINDOW_BEATS * period))
    if n < 2 * width:
        return None
    hop = max(1, width // 4)
    lo, hi = int(np.floor(period / LOCAL_RANGE)), int(np.ceil(period * LOCAL_RANGE))
    lags = np.arange(max(lo, 2), hi + 1)
    nfft = 1 << int(np.ceil(np.log2(2 * width)))
    starts = np.arange(0, n - width + 1, hop)
    # windows reaching into silence or a fade-out hold no period: only those at least half as
    # active as the median window are measured
    level = np.array([float(np.mean(env[s : s + width])) for s in starts])
    centres, found = [], []
    for start in starts[level >= LOCAL_MIN_LEVEL * np.median(level)]:
        x = env[start : start + width] - env[start : start + width].mean()
        spec = np.fft.rfft(x, nfft)
        ac = np.fft.irfft(spec * np.conj(spec), nfft)[: 2 * hi + 2]
        if ac[0] <= 0:
            continue
        comb = ac[lags] + 0.5 * ac[np.minimum(2 * lags, len(ac) - 1)]
        i = int(np.argmax(comb))
        lag = float(lags[i])
        if 0 < i < len(comb) - 1:  # parabolic refinement between lag samples
            a, b, c = comb[i - 1], comb[i], comb[i + 1]
            d = a - 2 * b + c
            if d < 0:
                lag += 0.5 * (a - c) / d
        centres.append(start + width / 2)
        found.append(lag)
    if len(found) < LOCAL_MEDIAN:
        return None
    smooth = ndi.median_filter(np.log(np.array(found)), size=LOCAL_MEDIAN, mode="nearest")
    if np.max(np.abs(smooth - np.log(period))) < np.log(1.0 + LOCAL_MIN_CHANGE):
        return None
    return np.exp(np.interp(np.arange(n), np.array(centres), smooth))


def _trim_weak(frames: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Drop leading/trailing beats on (near) silence: the DP fills gaps at the period."""
    if len(frames) == 0:
        return frames
    strength = local[frames]
    thresh = 0.5 * np.sqrt(np.mean(strength**2))
    ok = np.nonzero(strength >= thresh)[0]
    if len(ok) == 0:
        return frames[:0]
    return frames[ok[0] : ok[-1] + 1]


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

    accent = HIGH_ACCENT_WEIGHT * _zscore(near_max(full_env) - near_max(low_env))
    if beat_chroma is not None and beat_chroma.shape[1] == n + 1:
        change = 1.0 - np.sum(beat_chroma[:, :-1] * beat_chroma[:, 1:], axis=0)  # at each beat: before vs after
        accent = accent + CHANGE_ACCENT_WEIGHT * _zscore(change)
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
    change = _zscore(1.0 - np.sum(beat_chroma[:, :-1] * beat_chroma[:, 1:], axis=0))
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


def _zscore(x: np.ndarray) -> np.ndarray:
    s = x.std()
    return (x - x.mean()) / s if s > 0 else np.zeros_like(x, dtype=np.float64)


def analyze_rhythm(onsets: OnsetFeatures, *, duration: float, chroma: np.ndarray | None = None,
                   bass: np.ndarray | None = None, chroma_times: np.ndarray | None = None) -> Rhythm:
    """Tempo, beats, downbeats and metre from the onset features of a `duration`-second signal.

    chroma, bass, chroma_times: the (12, T) harmonic and bass chroma, used to find bar starts
    from chord and bass changes.
    """
    full, low, pitch, attack = onsets.full, onsets.low, onsets.pitch, onsets.attack
    sr = SR
    base = full + LOW_BAND_WEIGHT * low
    env = base + PITCH_WEIGHT_TEMPO * pitch
    act = beatnet.activations(onsets.logmel) if onsets.logmel is not None else None
    if act is not None:
        def harmony(beats: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            if chroma is None or chroma_times is None or len(beats) < 2:
                return None, None
            return (beat_chroma(beats, chroma, chroma_times),
                    None if bass is None else beat_chroma(beats, bass, chroma_times))

        net = beats_mod.decode(act, duration=duration, harmony=harmony)
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
