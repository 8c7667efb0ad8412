"""A tempo read at two thirds of the beat, told by where the bars repeat.

A 4/4 groove whose accents fall 3 + 3 + 2 eighths apart (a tresillo kick or bass line, common in electronic,
pop and Latin music) gives the beat activation a peak every dotted quarter, and the comb can take that period for
the beat: a stranger's xmoto tracks (batcave, foxrun, menu and ridealong) read 80-94 BPM where madmom and
Essentia both hear 120-142, and the beats, a dotted quarter apart, cycled through every eighth of the bar.

The network's downbeat output still fires once a bar. Under the comb's reading (the slower, T) the bars would
repeat 2, 3, 4 or 6 of its beats on (a half bar, a bar or two bars of 3/4 or 4/4); under the reading 1.5 times
faster, 2, 4 or 8 of the faster beats on, which are 1.33, 2.67 and 5.33 of the slower: lags at which one
reading's bars repeat and the other's cannot. (8 slower beats are 12 faster, 3 bars of it: both readings' bars
repeat there, so that lag is not used.)
The faster reading is taken where the downbeat output's autocorrelation at its lags exceeds the best at the
slower reading's by THREE_TWO_MARGIN. On the xmoto tracks: +0.28 to +0.66 for the four read at two thirds, -0.63
to -0.35 for the four read right (and +0.10 for titlemusic, 118 BPM, where madmom hears 177 and Essentia 118). The
fit items' right readings are all -0.18 or under (bench/three_two_fit.py); on 200 held-out real tracks the rule
moves 11 and 6 of them come to agree with madmom, none the other way (docs/music_accuracy.md).

Cost: one FFT autocorrelation of the downbeat output (~1 ms per minute of audio, 60 minutes included).
"""

from __future__ import annotations

import numpy as np

FASTER = 1.5  # the faster reading's tempo over the comb's
FASTER_LAGS = (2, 4, 8)  # beats of the faster reading: its half bar, bar and two bars (4/4)
SLOWER_LAGS = (2, 3, 4, 6)  # beats of the comb's reading: its half bar, bar and two bars in 4/4 and 3/4
LAG_SLACK = 2  # frames either side of a lag searched for the autocorrelation's peak (tempo and rounding error)
MIN_FASTER_BEATS = 24  # beats of the faster reading the activation must span: its two-bar lag three times
# The faster reading is taken where its bars' repetition exceeds the slower reading's by this much. The fit items
# cannot choose it (every right reading -0.18 or under, none at two thirds): set between xmoto's readings above
THREE_TWO_MARGIN = 0.2


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of x (its mean removed) at lags 0 .. len(x) - 1; zeros where x is constant."""
    z = x.astype(np.float64) - float(np.mean(x))
    nfft = 1 << int(np.ceil(np.log2(2 * max(len(z), 1))))
    spec = np.fft.rfft(z, nfft)
    ac = np.fft.irfft(spec * np.conj(spec), nfft)[: len(z)]
    return ac / ac[0] if len(ac) and ac[0] > 0 else np.zeros(len(z))


def _peak(ac: np.ndarray, lag_frames: float) -> float:
    i = int(round(lag_frames))
    return float(np.max(ac[max(i - LAG_SLACK, 1) : i + LAG_SLACK + 1]))


def faster_bar_evidence(down: np.ndarray, tempo: float, fps: float) -> float | None:
    """How much more the downbeat activation `down` (frames at `fps`) repeats at the FASTER reading's bar lags than
    at the comb's (`tempo`, BPM); None where the activation spans fewer than MIN_FASTER_BEATS faster beats."""
    beat_frames = 60.0 * fps / tempo  # of the slower reading
    fast_frames = beat_frames / FASTER
    if len(down) < MIN_FASTER_BEATS * fast_frames:
        return None
    ac = autocorrelation(down)
    faster = max(_peak(ac, lag * fast_frames) for lag in FASTER_LAGS)
    slower = max(_peak(ac, lag * beat_frames) for lag in SLOWER_LAGS)
    return faster - slower
