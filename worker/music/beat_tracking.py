"""Beats at a known tempo: dynamic programming (Ellis 2007) over the onset or beat activation, following a
stepping or ramping tempo where the local periods say it moves, and the steady grid a slow first attack
anchors (see rhythm.py for where these sit in the analysis)."""

from __future__ import annotations

import numba
import numpy as np
import scipy.ndimage as ndi

from .chroma import SR
from .onsets import ONSET_HOP, Attack

BEAT_TIGHTNESS = 100.0  # DP penalty on log-period deviations: constant-tempo material
SLOW_ATTACK_SECONDS = 0.09  # rise to within 6 dB of its peak slower than this: a slow attack (train split)
STEADY_BEAT_RESIDUAL = 0.06  # std of beats about a straight line, in periods, below which the tempo is steady
# window (in beats) of the local tempo estimate: short enough that a tempo step moves the period within a few
# beats (with 12 the period slid across the step and the tracker gained a beat there, shifting every later
# bar line); 4-6 are equal on the training corpus's 100 tempo-change items (beat F 0.883 -> 0.906, downbeat
# F 0.824 -> 0.872 at 6), and the median over LOCAL_MEDIAN windows keeps it steady through a fill
LOCAL_WINDOW_BEATS = 6
LOCAL_RANGE = 1.45  # a local period lies within this factor of the global one (tempo changes up to ~30 %)
LOCAL_MEDIAN = 5  # windows in the median filter of local periods: a fill or a break does not move it
LOCAL_MIN_LEVEL = 0.5  # a window needs this share of the median window's mean activation to be measured
LOCAL_MIN_CHANGE = 0.06  # relative change below which the tempo counts as steady (the fixed-period DP runs)
# the followed beats must sit on more activation than the fixed-period ones: a slow-attack string
# chorale's first seconds fake a 15 % faster period (its followed beats lose 3 %); with 6-beat windows the
# tempo-change items gain less than with 12, and 0.05 kept more of them (0.02-0.05 equal on the corpus)
FOLLOW_MIN_GAIN = 0.05
ANCHOR_AGREEMENT = 0.15  # the DP's first beat must lie this close (in periods) to the first attack
# Holding the phase through a song (hold_phase): the DP may move half a beat over a few intervals where a riff is
# pushed onto the off-beats, and come back later (charted rock: 20-40 s at a time)
PHASE_TOLERANCE = 0.1  # a beat this close (in periods) to the grid or the grid half a beat on sits on a phase
PHASE_STEADY_SHARE = 0.9  # at least this share of the beats must, or the tempo wanders and nothing is held
PHASE_SMOOTH_BEATS = 5  # median filter over the beats' phases: a beat inside a slip belongs to neither
HOLD_MAJORITY = 0.6  # the held phase covers at least this share of the beats' span


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


def track_beats(env: np.ndarray, tempo_bpm: float, *, sr: int = SR, follow_tempo: bool = False,
                hold: bool = False) -> np.ndarray:
    """Beat times (s) by dynamic programming (Ellis 2007).

    Each frame's cumulative score is its onset strength plus the best predecessor score
    between 0.5 and 2 periods back, penalised by the squared log deviation from one period.
    The period is the global tempo's, or with `follow_tempo` the local one (`local_periods`)
    where the tempo steps, ramps or slows down: at the fixed period the DP's tightness cannot
    follow a 20-30 % change and the beats drift off the music. The followed beats replace the
    fixed-period ones only when they sit on FOLLOW_MIN_GAIN more onset strength. With `hold`, the fixed-period
    beats keep one phase through the song (hold_phase).
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
                return followed * ONSET_HOP / sr
    if hold:
        frames = hold_phase(frames, float(period))
    return frames * ONSET_HOP / sr


def hold_phase(frames: np.ndarray, period: float, *, majority: float | None = None) -> np.ndarray:
    """Beat frames with the minority phase's stretches put back on the majority phase's grid, or `frames`.

    Each beat's phase is read against a grid of `period` (frames; refined by a line fit) and its half-beat
    shift: a steady song's beats sit on one of the two. Where at least PHASE_STEADY_SHARE of them sit within
    PHASE_TOLERANCE of either and one phase covers at least `majority` (HOLD_MAJORITY) of the span, the other
    phase's stretches are re-gridded from the majority's beats around them (evenly between two of them, at the
    grid's period before the first and after the last)."""
    share = HOLD_MAJORITY if majority is None else majority
    if len(frames) < 2 * PHASE_SMOOTH_BEATS or period <= 0:
        return frames
    t = frames.astype(np.float64)
    for _ in range(3):  # the comb's period drifts over a long song: refit it on the beats' grid positions
        pos = (t - t[0]) / period
        axis = np.angle(np.mean(np.exp(4j * np.pi * pos))) / (4 * np.pi)  # the two phases' common axis
        half = np.round(2 * (pos - axis)).astype(np.int64)  # grid positions in half beats
        slope, _ = np.polyfit(half, t, 1)
        period = 2 * float(slope)
    off = 2 * (pos - axis) - half  # in half beats
    if np.mean(np.abs(off) <= 2 * PHASE_TOLERANCE) < PHASE_STEADY_SHARE:
        return frames
    label = ndi.median_filter((half % 2).astype(np.int8), size=PHASE_SMOOTH_BEATS, mode="nearest")
    label[((half % 2) != label) | (np.abs(off) > 2 * PHASE_TOLERANCE)] = -1  # in a slip: neither phase
    span = np.diff(t)
    ends = label[1:]
    held = int(np.sum(span[ends == 1]) > np.sum(span[ends == 0]))
    if float(np.sum(span[ends == held])) < share * float(np.sum(span)) or not np.any(label == 1 - held):
        return frames
    # stretches off the held phase are re-gridded where they hold a beat of the other phase; a lone beat a little
    # off the grid (a played note's timing) stays where the DP put it
    moved = label != held
    edges = np.flatnonzero(np.diff(np.concatenate(([0], moved.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if not np.any(label[start:stop] == 1 - held):
            moved[start:stop] = False
    parts = [frames[~moved]]
    edges = np.flatnonzero(np.diff(np.concatenate(([0], moved.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if start > 0 and stop < len(t):  # evenly between the held beats either side
            fill = np.linspace(t[start - 1], t[stop], max(1, int(round((t[stop] - t[start - 1]) / period))) + 1)[1:-1]
        elif start == 0:  # at the grid's period before the first held beat
            fill = np.arange(t[stop] - period, t[0] - period / 2, -period)[::-1]
        else:
            fill = np.arange(t[start - 1] + period, t[-1] + period / 2, period)
        fill = np.round(fill).astype(frames.dtype)
        parts.append(fill[fill >= 0])
    return np.sort(np.concatenate(parts))


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
