"""Tempo, beats, bars and metre from the beat network's activations (beatnet.py).

- Tempo: the comb over the autocorrelation of the beat activation (rhythm.estimate_tempo)
  with its own prior, fitted on the training corpus. The network fires on beats and not on
  subdivisions, so the half period gets no evidence of its own.
- Beats: the dynamic-programming tracker (beat_tracking.track_beats) on the beat activation, at the
  local period where the tempo steps or ramps; where the whole piece's tempo agrees with neither
  half's (a change blurs the comb), tracking starts from the first half's tempo.
- Bars: for each bar length and phase, how much more downbeat activation falls on its
  first beats than on the others, plus chord changes and bars holding one harmony; within
  the chosen bar length, a start prior favours a first bar that is whole or a one-beat upbeat
  (the anacrusis of a chorale) and, in 4 beats per bar, the half-bar parity (beats 1 and 3 against
  2 and 4) says which half of the bar is strong; the bar length also from how the beats' onset
  textures repeat a bar later (bar_repetition). "Compound" (the beat divides in three: 6/8, 9/8,
  12/8, shuffle) is the mean of the third output over the sounding frames plus how much more the
  note onsets fall on the beats' thirds than on their half (subdivision_evidence), which is what
  tells a drum-less jig, where the network hears no triplets.
- Confidence: the comb score of the chosen period; an alternative period (x2, /2, x3/2,
  x2/3) scoring close to it is reported as a warning rather than hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .beat_tracking import track_beats
from .onsets import FPS
from .silence_gaps import cut_out, outside, silent_runs
from .three_two import FASTER, THREE_TWO_MARGIN, faster_bar_evidence

NET_PRIOR_BPM = 110.0  # centre of the log-normal tempo prior on the activation (bench/beat_fit.py, fit items)
NET_PRIOR_OCTAVES = 2.0  # its width in octaves: wide, the network decides (fit Acc1 0.911 at 1.0, 0.956 at 2.0)
NET_HALF_WEIGHT = -0.3  # half-period autocorrelation weight (fit items)
SIMPLE_METRES = (3, 4)  # beats per bar considered when the beat divides in two
# ... and when it divides in three (6/8, 9/8, 12/8); 9/8 joined with the subdivision evidence, which first let
# drum-less 9/8 tunes be heard as compound (fit data: folk metre 0.725 -> 0.775, downbeat F 0.537 -> 0.553)
COMPOUND_METRES = (2, 3, 4)
FOUR_BIAS = 0.05  # downbeat-activation contrast handed to 4 beats per bar (the commonest; fit items)
HARMONY_WEIGHT = 0.03  # harmonic bar evidence (z units) against activation contrast (fit down F 0.67 -> 0.75)
# Where the first bar starts: music begins on a downbeat or with a short upbeat (a chorale's one-beat
# pickup), rarely anywhere else; without drums the downbeat activation often prefers the half-bar
# (beat 3 of 4) and so the wrong half of every bar. Bonus (activation-contrast units, bench/downbeat_fit.py)
# for the first downbeat falling on the first tracked beat (0) or on the second (1, a one-beat pickup).
START_BONUS = (0.2, 0.3)  # fit items: chorales down F 0.585 -> 0.781, pattern songs 0.887 -> 0.997
# Which half of a 4-beat bar is strong: long notes and chord changes start on beats 1 and 3, not on 2 and 4
# (a held half note gives the beat after it no onset), and the network's downbeat activation is higher on
# both. Without drums this parity is clearer than beat 1 against beat 3, which the start prior then settles.
# Weight (activation-contrast units per z unit) of the parity of the downbeat activation and the chord
# change, added when the phase within 4 beats per bar is chosen (bench/downbeat_fit.py, fit items).
PARITY_WEIGHT = 0.2  # fit items: chorales down F 0.851 -> 0.901 anywhere in 0.1-0.4 (the middle taken)
# A piece whose whole-piece tempo agrees (within this share) with neither half's has changed tempo; each half
# must last CHANGE_MIN_SECONDS (tempo_of_a_changing_piece; training corpus's 100 tempo-change items: beat F
# 0.906 -> 0.941, downbeat F 0.872 -> 0.919, no steady fit item touched)
CHANGE_AGREEMENT = 0.1
CHANGE_MIN_SECONDS = 10.0
FOLLOW_TEMPO = True  # beats follow a stepping or ramping tempo (beat_tracking.local_periods)
HOLD_PHASE = True  # steady beats keep one phase through the song (beat_tracking.hold_phase)
COMPOUND_THRESHOLD = 0.5  # mean compound activation above which the metre is compound
DOWNBEAT_WINDOW = 2  # frames either side of a beat searched for the downbeat activation's peak
ACTIVE_LEVEL = 0.05  # beat activation (smoothed) above which a frame counts as sounding music
AMBIGUOUS_RATIO = 0.8  # an alternative period scoring this share of the best one gets a warning
ALTERNATIVES = {"double or half": (2.0, 0.5), "3/2 or 2/3": (1.5, 2.0 / 3.0)}
# Below this a tempo is said to be slow, the beat perhaps a subdivision of what was read: on real recordings the
# comb's slowest peaks are often a bar or half bar (a stranger's 52 and 41 BPM for tracks librosa reads at 120 and
# 144, without a word of doubt; 7 of Wesnoth's 41 tracks read 40-54 BPM). Of the test set's 436 items with one
# tempo (both splits), 7 are read this slow: 6 wrongly (a quarter, a third or half of the label), one right (a
# 52 BPM groove in a compound metre, whose beat is the dotted quarter); the slowest simple-metre label is 60 BPM.
SLOW_TEMPO_BPM = 58.0
# A tempo read that slow is taken k = 2, 3 or 4 times faster where the beats of that faster grid sit on at least
# this share of the activation the slow grid's beats sit on: the subdivisions of a bar read as the beat are beats
# to the network too, while between the beats of a truly slow piece it hears little. bench/slow_fit.py: the fit
# items' 2 slow readings (both right) keep at most 0.63; the whole training corpus's 10 (9 right, at most 0.63; a
# chorale read at half, 0.80) are all right at 0.65-0.75, the middle taken. A reading that stays gets the warning.
SUBDIVIDE_SHARE = 0.7
# Bars repeat: a melody's rhythm, an accompaniment figure, the bass's step pattern come back a bar later more
# often than a beat or two later. Each beat's texture is the onset envelopes sampled at PATTERN_STEPS points across
# it; the similarity of beat i to beat i + lag (each sample standardised over the beats, so the texture every beat
# shares does not count), averaged at one and two bars, is the evidence for a bar length. Without drums the
# network's downbeat output hardly tells 3 from 4 beats per bar; this is read from the music itself.
PATTERN_STEPS = 12  # samples per beat: halves, thirds, quarters and sixths of it land on a sample
PATTERN_WEIGHT = 0.5  # activation-contrast units per unit of similarity difference (bench/downbeat_fit.py)
# Whether the beat divides in three: the network's compound output learned it from drum kits (a shuffle's hi-hat,
# a 6/8 groove) and is blind without them; in a drum-less jig the notes themselves fall on the beat's thirds and
# not on its half. The pitch-flux envelope (note onsets, not noise or drum hits) at the thirds against at the
# half, averaged over the beats, in the envelope's own standard deviations: on the fit data whose tempo is read
# right, compound 0.96 median, simple -0.76.
SUBDIVISION_STREAM = 2  # index of the pitch-flux envelope in beat_patterns' envelopes (full, low, pitch)
SUBDIVISION_WEIGHT = 1.0  # compound-activation units per unit of that evidence (bench/downbeat_fit.py)
SUBDIVISION_OFFSET = 0.0  # the evidence that says neither
# s added to every beat and bar time. The network was trained on renders labelled at MIDI note-on, where a drum's
# attack sounds ~3 ms later; there its beats land 1 ms before the label (fit data). On sound it never trained on
# they come early: 8-23 ms before synthetic clicks and kicks (a stranger's click tracks: 20-24 ms), and on 36
# Wesnoth tracks a median 18 ms before librosa's onsets, which fall 4 ms after a click. 10 ms splits that
# (renders 6 ms after the attack, real tracks ~4 ms before it); beat F at 70 ms is not what it is for.
BEAT_LATENCY_SECONDS = 0.010
MIN_NET_CONFIDENCE = 0.08  # comb confidence on the activation below which there is no steady beat
# A beat is a pulse heard again and again: fewer than MIN_BEAT_EVENTS peaks of the beat activation at
# EVENT_LEVEL or more (the network's output, 0-1) are no steady beat, however periodic. A stranger's steady 3 s
# tone peaked at its start and its end (0.95, 0.48; nothing else above 0.02) and was given 40 BPM at confidence
# 0.33 with three beats; a tone pulsing every 2 s peaks at 0.84-0.90 on each pulse.
MIN_BEAT_EVENTS = 4
EVENT_LEVEL = 0.05
# Peaks closer than this are one event (a beat at 240 BPM is 0.25 s long): a stranger's 3 s 220 Hz sine rippled
# 0.05-0.12 five times in its last second, anticipating its end, and was given 40 BPM at confidence 0.35.
EVENT_GAP_SECONDS = 0.25
# Below this a tempo is still given, with a warning: no item of the test set's train split scores under 0.27;
# on its test split the 8 under 0.2 are tempo-change renders whose start tempo was missed, and a stranger's
# ambient and rubato game tracks (0.12, 0.15) had tempi and beat grids that onsets did not support.
WEAK_BEAT_CONFIDENCE = 0.2


@dataclass
class NetRhythm:
    tempo_bpm: float | None
    tempo_confidence: float
    beat_times: np.ndarray
    downbeat_times: np.ndarray
    beats_per_bar: int | None
    compound: bool
    warnings: list[str] = field(default_factory=list)


def weak_beat_warnings(confidence: float) -> list[str]:
    """A tempo read from a weak pulse (rubato, ambient, a loose groove) says so."""
    if confidence >= WEAK_BEAT_CONFIDENCE:
        return []
    return [f"weak beat (tempo confidence {confidence:.2f}): the tempo and beats may not follow the music"]


def tempo_warnings(total: np.ndarray, tempo: float) -> list[str]:
    """Warnings for alternative periods whose (prior-weighted) comb score is close to the best."""
    if total.size == 0 or tempo is None:
        return []
    from .rhythm import MAX_BPM, MIN_BPM

    lags = np.arange(len(total))
    best_lag = FPS * 60.0 / tempo
    # estimate_tempo's candidate lags start at the shortest period it considers
    first = int(FPS * 60.0 / MAX_BPM)
    best = float(total.max())
    out = []
    for name, factors in ALTERNATIVES.items():
        for f in factors:
            lag = best_lag / f
            bpm = tempo * f
            if not MIN_BPM <= bpm <= MAX_BPM:
                continue
            i = int(round(lag)) - max(first, 2)
            if 0 <= i < len(lags) and float(total[max(0, i - 1) : i + 2].max()) >= AMBIGUOUS_RATIO * best:
                out.append(f"tempo may be {name} ({bpm:.0f} BPM also fits)")
                break
    if not out and tempo < SLOW_TEMPO_BPM:
        faster = [f"{tempo * k:.0f}" for k in (2, 3, 4) if tempo * k <= MAX_BPM]
        out.append(f"slow tempo ({tempo:.0f} BPM): a bar or half bar may have been read as the beat, which may be "
                   f"{', '.join(faster[:-1])} or {faster[-1]} BPM")
    return out


def _downbeat_strength(down: np.ndarray, beat_frames: np.ndarray) -> np.ndarray:
    padded = np.pad(down, DOWNBEAT_WINDOW, mode="edge")
    return np.max(np.stack([padded[beat_frames + k] for k in range(2 * DOWNBEAT_WINDOW + 1)]), axis=0)


def half_bar_parity(strength: np.ndarray, beat_harmony: np.ndarray | None) -> np.ndarray:
    """(2,) evidence that the even (0) or the odd (1) tracked beats are the strong ones (beats 1 and 3 of
    4): the contrast, in z units, of the downbeat activation and, with the beat chroma (12, n + 1), of the
    chord change into each beat, between the two sets of beats; the two entries are opposite."""
    parts = [zscore(strength)]
    if beat_harmony is not None and beat_harmony.shape[1] == len(strength) + 1:
        parts.append(zscore(1.0 - np.sum(beat_harmony[:, :-1] * beat_harmony[:, 1:], axis=0)))
    even = np.arange(len(strength)) % 2 == 0
    contrast = float(np.mean([z[even].mean() - z[~even].mean() for z in parts]))
    return np.array([contrast, -contrast])


def zscore(x: np.ndarray) -> np.ndarray:
    """x standardised (zeros where it does not vary)."""
    s = x.std()
    return (x - x.mean()) / s if s > 0 else np.zeros_like(x, dtype=np.float64)


def beat_patterns(envelopes: list[np.ndarray], beat_times: np.ndarray) -> np.ndarray:
    """(len(envelopes) * PATTERN_STEPS, n - 1): each beat's texture, the envelopes (frames at FPS) sampled at
    PATTERN_STEPS evenly spaced points from the beat to the next."""
    frames = beat_times * FPS
    steps = np.arange(PATTERN_STEPS) / PATTERN_STEPS
    at = frames[:-1, None] + np.diff(frames)[:, None] * steps[None, :]  # (n - 1, steps)
    rows = []
    for env in envelopes:
        grid = np.arange(len(env), dtype=np.float64)
        rows.append(np.interp(at, grid, env.astype(np.float64)).T)  # (steps, n - 1)
    return np.concatenate(rows, axis=0)


def subdivision_evidence(patterns: np.ndarray) -> float:
    """How much more the beats' note onsets fall on their thirds than on their half (see SUBDIVISION_WEIGHT)."""
    x = patterns[SUBDIVISION_STREAM * PATTERN_STEPS : (SUBDIVISION_STREAM + 1) * PATTERN_STEPS]
    third, half = PATTERN_STEPS // 3, PATTERN_STEPS // 2
    return float(x[[third, 2 * third]].mean() - x[half].mean())


def compound_activation(act: np.ndarray) -> float | None:
    """The network's mean compound output over the sounding frames of (3, T) activations; None in silence."""
    sounding = act[0] > ACTIVE_LEVEL
    return float(np.mean(act[2][sounding])) if np.any(sounding) else None


def is_compound(activation: float, patterns: np.ndarray | None) -> bool:
    """The beat divides in three: the network's mean compound output over the sounding frames, plus the
    onsets' subdivision evidence where the beats' textures are known."""
    score = activation - COMPOUND_THRESHOLD
    if SUBDIVISION_WEIGHT and patterns is not None and patterns.shape[0] > SUBDIVISION_STREAM * PATTERN_STEPS:
        score += SUBDIVISION_WEIGHT * (subdivision_evidence(patterns) - SUBDIVISION_OFFSET)
    return bool(score > 0)


def bar_repetition(patterns: np.ndarray, metres: tuple[int, ...]) -> dict[int, float]:
    """Per bar length, the mean correlation of a beat's texture with the texture one and two bars later, less
    the mean over `metres` (so the entries sum to zero); {} when there are too few beats for two bars of the
    longest metre."""
    n = patterns.shape[1]
    if n < 4 * max(metres):
        return {}
    z = patterns - patterns.mean(axis=1, keepdims=True)
    z /= z.std(axis=1, keepdims=True) + 1e-9
    z /= np.linalg.norm(z, axis=0, keepdims=True) + 1e-9

    def similarity(lag: int) -> float:
        return float(np.mean(np.sum(z[:, :-lag] * z[:, lag:], axis=0)))

    raw = {m: 0.5 * (similarity(m) + similarity(2 * m)) for m in metres}
    mean = float(np.mean(list(raw.values())))
    return {m: v - mean for m, v in raw.items()}


def choose_bars(down: np.ndarray, beat_times: np.ndarray, *, compound: bool, harmony=None,
                patterns: np.ndarray | None = None) -> tuple[int | None, int, float]:
    """(beats per bar, index of the first downbeat, contrast margin over the runner-up).

    harmony: a callable beats -> (beat chroma, beat bass) for the harmonic bar evidence
    (rhythm.harmony_bar_scores), added at HARMONY_WEIGHT, or None. patterns: the beats' textures
    (beat_patterns) for the bar-repetition evidence, added at PATTERN_WEIGHT, or None."""
    from .rhythm import harmony_bar_scores

    n = len(beat_times)
    if n < 8:
        return None, 0, 0.0
    metres = COMPOUND_METRES if compound else SIMPLE_METRES
    extra: dict[tuple[int, int], float] = {}
    beat_harmony, beat_bass = harmony(beat_times) if harmony is not None else (None, None)
    if HARMONY_WEIGHT:
        extra = harmony_bar_scores(beat_harmony, beat_bass, n, metres)
    repetition = bar_repetition(patterns, metres) if PATTERN_WEIGHT and patterns is not None else {}
    frames = np.clip(np.round(beat_times * FPS).astype(int), 0, len(down) - 1)
    strength = _downbeat_strength(down, frames)
    scores = {}
    for metre in metres:
        for phase in range(metre):
            on = strength[phase::metre]
            off = np.delete(strength, np.arange(phase, n, metre))
            scores[(metre, phase)] = (float(on.mean() - off.mean()) + (FOUR_BIAS if metre == 4 else 0.0)
                                      + HARMONY_WEIGHT * extra.get((metre, phase), 0.0)
                                      + PATTERN_WEIGHT * repetition.get(metre, 0.0))
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    margin = scores[ranked[0]] - scores[ranked[1]] if len(ranked) > 1 else 0.0
    metre, phase = ranked[0]
    # the metre is decided by the bars' evidence alone, where its first bar starts by that plus the
    # start prior (letting the prior pick the metre too cost fit chorales metre 0.95 -> 0.90) and, in
    # 4 beats per bar, which half of the bar is strong
    parity = half_bar_parity(strength, beat_harmony) if metre == 4 else np.zeros(2)
    started = {p: scores[(metre, p)] + (START_BONUS[p] if p < len(START_BONUS) else 0.0)
               + PARITY_WEIGHT * float(parity[p % 2]) for p in range(metre)}
    phase = max(started, key=started.__getitem__)
    return metre, phase, margin


def grid_strength(beat: np.ndarray, tempo: float) -> float:
    """Mean beat activation (the peak within DOWNBEAT_WINDOW frames) at the beats tracked at `tempo`."""
    frames = np.minimum((track_beats(beat, tempo) * FPS).astype(int), len(beat) - 1)
    if len(frames) == 0:
        return 0.0
    padded = np.pad(beat, DOWNBEAT_WINDOW, mode="edge")
    return float(np.mean(np.max(np.stack([padded[frames + k] for k in range(2 * DOWNBEAT_WINDOW + 1)]), axis=0)))


def subdivided_tempo(beat: np.ndarray, tempo: float, *, share: float | None = None) -> float:
    """`tempo`, or k = 2, 3 or 4 times it where a slow reading (under SLOW_TEMPO_BPM) was a bar or half bar:
    the k whose grid keeps the largest share (at least `share`) of the slow grid's beat activation."""
    from .rhythm import MAX_BPM

    if tempo >= SLOW_TEMPO_BPM:
        return tempo
    slow = grid_strength(beat, tempo)
    best, chosen = SUBDIVIDE_SHARE if share is None else share, 1  # the module's, read now (bench --set changes it)
    for k in (2, 3, 4):
        if tempo * k <= MAX_BPM and slow > 0:
            kept = grid_strength(beat, tempo * k) / slow
            if kept >= best:
                best, chosen = kept, k
    return tempo * chosen


def tempo_of_a_changing_piece(beat: np.ndarray, tempo: float) -> float:
    """The tempo to track at: `tempo` (the whole piece's comb), or the first half's where the tempo changes.

    Over a piece whose tempo steps or ramps, the autocorrelation mixes two periods and the comb can settle on a
    period neither half has (113 then 85 BPM gave 56.5, half of the first), and the followed beats stay within
    beat_tracking.LOCAL_RANGE of it. Each half alone is steadier: when the whole piece's tempo is within
    CHANGE_AGREEMENT of neither half's, the beats are tracked from the first half's (the local period then
    follows the change). A steady piece's halves agree with the whole, so it is never touched."""
    from .rhythm import estimate_tempo

    n = len(beat)
    if n < 2 * CHANGE_MIN_SECONDS * FPS:
        return tempo
    halves = []
    for part in (beat[: n // 2], beat[n // 2 :]):
        half, _, _ = estimate_tempo(part, prior_bpm=NET_PRIOR_BPM, prior_octaves=NET_PRIOR_OCTAVES,
                                    half_weight=NET_HALF_WEIGHT)
        if half is None or abs(tempo / half - 1.0) < CHANGE_AGREEMENT:
            return tempo
        halves.append(half)
    return float(halves[0])


def bar_checked_tempo(down: np.ndarray, tempo: float) -> float:
    """`tempo`, or FASTER times it where the downbeat output's bars repeat at the faster reading's bar lags by
    THREE_TWO_MARGIN more than at this one's (three_two.py: a 4/4 groove read at two thirds of its beat)."""
    from .rhythm import MAX_BPM

    if tempo * FASTER > MAX_BPM:
        return tempo
    evidence = faster_bar_evidence(down.astype(np.float64), tempo, FPS)
    return tempo * FASTER if evidence is not None and evidence > THREE_TWO_MARGIN else tempo


def beat_events(beat: np.ndarray) -> int:
    """How many peaks (local maxima; a plateau counts once) of the beat activation reach EVENT_LEVEL, each at
    least EVENT_GAP_SECONDS from a higher one (the ripple before a tone's end is one event, not five). The ends
    are compared with nothing beyond them: music starting on its first beat peaks in the first frame."""
    padded = np.concatenate(([-np.inf], beat, [-np.inf]))
    inner = padded[1:-1]
    peaks = np.flatnonzero((inner >= padded[:-2]) & (inner > padded[2:]) & (inner >= EVENT_LEVEL))
    gap = EVENT_GAP_SECONDS * FPS
    kept: list[int] = []
    for i in peaks[np.argsort(-beat[peaks], kind="stable")]:  # highest first; one near a kept peak is its ripple
        if all(abs(int(i) - k) >= gap for k in kept):
            kept.append(int(i))
    return len(kept)


def decode(act: np.ndarray, *, duration: float, harmony=None, envelopes: list[np.ndarray] | None = None,
           silent: np.ndarray | None = None) -> NetRhythm:
    """NetRhythm from (3, T) activations (beat, downbeat, compound); envelopes: onset envelopes at FPS
    (onsets.OnsetFeatures' full, low, pitch) whose beat textures add the bar-repetition and the
    subdivision evidence; silent: (T,) silent frames (OnsetFeatures.silent), whose long runs hold no beats."""
    from .rhythm import NOISE_CONFIDENCE, estimate_tempo

    beat = act[0].astype(np.float64)
    # the tempo is read on the music, the beats are tracked over it all and none kept in a silence (silence_gaps.py)
    gaps = silent_runs(silent, len(beat))
    music = cut_out(act, gaps)
    heard = music[0].astype(np.float64)  # the activation itself where there is no silence (cut_out)
    seconds = len(heard) / FPS if gaps else duration
    tempo, conf, total = estimate_tempo(heard, prior_bpm=NET_PRIOR_BPM, prior_octaves=NET_PRIOR_OCTAVES,
                                        half_weight=NET_HALF_WEIGHT)
    if (tempo is None or conf < MIN_NET_CONFIDENCE + NOISE_CONFIDENCE / np.sqrt(max(seconds, 1.0))
            or beat_events(heard) < MIN_BEAT_EVENTS):
        return NetRhythm(None, float(conf), np.zeros(0), np.zeros(0), None, False, ["no steady beat found"])
    tempo = subdivided_tempo(heard, tempo_of_a_changing_piece(heard, tempo))
    tempo = bar_checked_tempo(music[1], tempo)
    beats = outside(track_beats(beat, tempo, follow_tempo=FOLLOW_TEMPO, hold=bool(HOLD_PHASE)), gaps)
    # a beat on the last activation frame is a peak that lies past the end (the activation still rising: a game's
    # loop cut where its next bar begins, a stranger's race1-jt.ogg); it had been a beat, a downbeat and a bar
    # at the very last sample, with a chord of no length after it
    beats = beats[np.round(beats * FPS) < len(beat) - 1]
    patterns = beat_patterns(envelopes, beats) if envelopes and len(beats) > 1 else None
    activation = compound_activation(act)
    compound = activation is not None and is_compound(activation, patterns)
    metre, phase, margin = choose_bars(act[1], beats, compound=compound, harmony=harmony, patterns=patterns)
    beats = np.clip(beats + BEAT_LATENCY_SECONDS, 0.0, duration)
    downbeats = beats[phase::metre] if metre else np.zeros(0)
    # where the beats leave the tempo: tempo_changes.py, from the result's beats (pipeline._rhythm_stage)
    warnings = weak_beat_warnings(conf) + tempo_warnings(total, tempo)
    return NetRhythm(float(tempo), float(conf), beats, downbeats, metre, compound, warnings)
