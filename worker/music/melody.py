"""Predominant melody: harmonic-sum salience, banded Viterbi tracking, note segmentation.

Why not pYIN: it costs ~20 s per minute of audio here and it is a monophonic tracker.
This one works on an 11 kHz signal: one STFT, one sparse matrix product for the
salience of 300 pitch candidates (20-cent steps, C2..C7), then a Viterbi path whose
transitions cost |interval| within a band plus a flat price for leaps. The band keeps
the path on one voice; the flat price lets a melody leap an octave. About 0.3 s per
minute of audio, warm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.ndimage as ndi
import scipy.sparse as sps

SR = 11025  # Hz, melody analysis rate (harmonics up to 5.5 kHz are plenty)
N_FFT = 1024  # samples, FFT size (10.8 Hz bins; the harmonic sum gives finer pitch than one bin)
WIN = 1024  # samples (93 ms) analysis window
HOP = 128  # samples (11.6 ms) between f0 frames
MIDI_MIN, MIDI_MAX = 36.0, 96.0  # candidate range C2..C7
BINS_PER_SEMITONE = 5  # 20-cent candidate grid
N_HARMONICS = 8
HARMONIC_DECAY = 0.8
MAG_POWER = 0.5  # magnitude compression before summing harmonics
HIGH_PITCH_TILT = 0.08  # per semitone above MIDI_MIN: a melody is usually the upper voice
BAND = 10  # bins (2 semitones) reachable at the per-bin cost between frames
STEP_COST = 0.02  # per bin moved, in units of the normalised salience
LEAP_COST = 1.0  # flat cost of a leap beyond the band
MIN_PEAKINESS = 1.9  # tracked salience / mean over candidates: noise and drums stay below ~1.8
VOICING_THRESHOLD = 0.25  # tracked salience relative to the track's 95th percentile
MIN_NOTE = 0.06  # s, shorter fragments are merged or dropped
FLUX_LAG = 2  # frames between the spectra compared for attacks
ONSET_ATTACK = 0.09  # attack / strength ratio that splits a held pitch (fit on the train split)
STRENGTH_BINS = 3  # +-60 cents around the path count as the same note
RISE_SECONDS = 0.04  # attack peaks closer than this are one attack
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass
class Melody:
    times: np.ndarray  # (T,) s
    f0_hz: np.ndarray  # (T,) Hz of the tracked pitch (also on unvoiced frames)
    voiced: np.ndarray  # (T,) bool
    notes: list[dict]
    hop_seconds: float


def candidate_midi() -> np.ndarray:
    n = int((MIDI_MAX - MIDI_MIN) * BINS_PER_SEMITONE) + 1
    return MIDI_MIN + np.arange(n) / BINS_PER_SEMITONE


def salience_matrix(*, sr: int | None = None, n_fft: int | None = None) -> sps.csr_matrix:
    """(n_candidates, n_fft//2+1) sparse harmonic-sum weights with linear interpolation."""
    sr, n_fft = sr or SR, n_fft or N_FFT
    f0 = 440.0 * 2 ** ((candidate_midi() - 69) / 12)
    n_bins = n_fft // 2 + 1
    rows, cols, vals = [], [], []
    for h in range(1, N_HARMONICS + 1):
        pos = h * f0 * n_fft / sr
        ok = pos < n_bins - 1
        k = np.floor(pos[ok]).astype(int)
        frac = pos[ok] - k
        w = HARMONIC_DECAY ** (h - 1)
        idx = np.nonzero(ok)[0]
        rows += [idx, idx]
        cols += [k, k + 1]
        vals += [w * (1 - frac), w * frac]
    return sps.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(len(f0), n_bins), dtype=np.float32)


@numba.njit(cache=True)
def _banded_viterbi(emit, band, step_cost, leap_cost):  # pragma: no cover - compiled
    n_states, n_frames = emit.shape
    back = np.empty((n_frames, n_states), dtype=np.int32)
    delta = emit[:, 0].copy()
    new = np.empty(n_states)
    for t in range(1, n_frames):
        best_all = -1e30
        arg_all = 0
        for j in range(n_states):
            if delta[j] > best_all:
                best_all = delta[j]
                arg_all = j
        for i in range(n_states):
            m = best_all - leap_cost
            a = arg_all
            lo = max(0, i - band)
            hi = min(n_states, i + band + 1)
            for j in range(lo, hi):
                v = delta[j] - step_cost * abs(i - j)
                if v > m:
                    m = v
                    a = j
            new[i] = m + emit[i, t]
            back[t, i] = a
        delta[:] = new
    path = np.empty(n_frames, dtype=np.int32)
    best = 0
    for i in range(n_states):
        if delta[i] > delta[best]:
            best = i
    path[n_frames - 1] = best
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


CHUNK_FRAMES = 4096  # f0 frames (47 s) decoded per Viterbi pass: bounds memory on long files
OVERLAP_FRAMES = 256  # frames (3 s) of context on each side of a chunk, so its path settles


def _near_path(x: np.ndarray, path: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Best value of x within +-STRENGTH_BINS of the path: vibrato moving the pitch across grid bins
    is still the same note."""
    out = x[path, cols]
    for d in range(1, STRENGTH_BINS + 1):
        out = np.maximum(out, x[np.clip(path + d, 0, x.shape[0] - 1), cols])
        out = np.maximum(out, x[np.clip(path - d, 0, x.shape[0] - 1), cols])
    return out


def _chunk_stats(sal: np.ndarray, flux: np.ndarray) -> np.ndarray:
    """(6, n) per-frame stats of one chunk: refined MIDI pitch of the Viterbi path, tracked
    salience, frame max, frame mean, note strength and attack."""
    frame_max = sal.max(axis=0)
    emit = (sal / (frame_max[None, :] + 1e-9)).astype(np.float64)
    path = _banded_viterbi(emit, BAND, STEP_COST, LEAP_COST)
    cols = np.arange(sal.shape[1])
    midi = candidate_midi()
    # parabolic refinement on the salience curve around the chosen bin
    p = np.clip(path, 1, len(midi) - 2)
    a, b, c = sal[p - 1, cols], sal[p, cols], sal[p + 1, cols]
    d = a - 2 * b + c
    off = np.where(d < 0, 0.5 * (a - c) / np.where(d < 0, d, -1), 0.0)
    f_midi = midi[p] + np.clip(off, -1, 1) / BINS_PER_SEMITONE
    return np.stack([f_midi, sal[path, cols], frame_max, sal.mean(axis=0), _near_path(sal, path, cols),
                     _near_path(flux, path, cols)]).astype(np.float32)


class MelodyScan:
    """Push 11.025 kHz blocks, then `finish()` for the Melody of the whole signal.

    Salience is decoded by the banded Viterbi in chunks of CHUNK_FRAMES with OVERLAP_FRAMES of
    context on both sides; only per-frame stats are kept, so memory does not grow with the
    salience matrix of the whole file.
    """

    def __init__(self, *, tuning_cents: float = 0.0):
        from .frames import FrameStream

        self.tuning_cents = tuning_cents
        self.frames = FrameStream(N_FFT, HOP, win_length=WIN)
        self.weights = salience_matrix()
        self.tilt = (1.0 + HIGH_PITCH_TILT * (candidate_midi() - MIDI_MIN))[:, None].astype(np.float32)
        self._prev = np.zeros((N_FFT // 2 + 1, 0), dtype=np.float32)  # last FLUX_LAG compressed frames
        self._sal: list[np.ndarray] = []
        self._flux: list[np.ndarray] = []
        self._context = 0  # frames at the start of the buffer that were already decoded
        self._stats: list[np.ndarray] = []

    def push(self, block: np.ndarray) -> None:
        self._add(self.frames.push(block))
        self._drain(final=False)

    def _add(self, mag: np.ndarray) -> None:
        if mag.shape[1] == 0:
            return
        comp = mag**MAG_POWER
        sal = np.asarray(self.weights @ comp, dtype=np.float32) * self.tilt
        # attack evidence: half-wave rectified rise of the harmonics under the path, relative to
        # the note's level (re-struck notes of the same pitch show no pitch change, only this)
        both = np.concatenate([self._prev, comp], axis=1)
        n_prev, k = self._prev.shape[1], comp.shape[1]
        rise = np.zeros_like(comp)
        start = max(0, FLUX_LAG - n_prev)  # the first FLUX_LAG frames of the signal have no predecessor
        if start < k:
            lagged = both[:, n_prev + start - FLUX_LAG : n_prev + k - FLUX_LAG]
            rise[:, start:] = np.maximum(comp[:, start:] - lagged, 0.0)
        self._prev = both[:, -FLUX_LAG:]
        self._sal.append(sal)
        self._flux.append(np.asarray(self.weights @ rise, dtype=np.float32))

    def _drain(self, *, final: bool) -> None:
        n = sum(x.shape[1] for x in self._sal)
        if n == 0 or (not final and n < self._context + CHUNK_FRAMES + OVERLAP_FRAMES):
            return
        sal, flux = np.concatenate(self._sal, axis=1), np.concatenate(self._flux, axis=1)
        end = n if final else self._context + CHUNK_FRAMES
        self._stats.append(_chunk_stats(sal, flux)[:, self._context : end])
        keep = n if final else end - OVERLAP_FRAMES
        self._sal, self._flux = [sal[:, keep:]], [flux[:, keep:]]
        self._context = OVERLAP_FRAMES
        if not final:
            self._drain(final=False)

    def finish(self) -> Melody:
        self._add(self.frames.finish())
        self._drain(final=True)
        hop_s = HOP / SR
        stats = np.concatenate(self._stats, axis=1) if self._stats else np.zeros((6, 0), np.float32)
        self._stats = []
        f_midi, tracked, frame_max, mean, strength, attack = stats
        times = np.arange(stats.shape[1]) * hop_s
        ref = float(np.percentile(frame_max, 95)) if frame_max.size else 0.0
        if ref <= 0:
            return Melody(times, np.zeros(len(times)), np.zeros(len(times), bool), [], hop_s)
        f0 = 440.0 * 2 ** ((f_midi.astype(np.float64) - 69) / 12)
        # voiced: loud enough relative to the track, and peaked: a pitched sound stands out of
        # the candidate axis, noise and drums give a flat salience
        voiced = (tracked >= VOICING_THRESHOLD * ref) & (tracked / (mean + 1e-9) >= MIN_PEAKINESS)
        voiced = ndi.binary_closing(voiced, structure=np.ones(5)) & ndi.binary_opening(voiced, structure=np.ones(3))
        notes = segment_notes(times, f_midi - self.tuning_cents / 100.0, voiced, attack / (strength + 1e-9), hop_s)
        return Melody(times, f0, voiced, notes, hop_s)


def track_melody(y: np.ndarray, *, tuning_cents: float = 0.0) -> Melody:
    """Predominant f0 and notes of mono `y` (n,) sampled at SR (11025 Hz)."""
    hop_s = HOP / SR
    if len(y) < WIN:
        return Melody(np.zeros(0), np.zeros(0), np.zeros(0, bool), [], hop_s)
    scan = MelodyScan(tuning_cents=tuning_cents)
    scan.push(y)
    return scan.finish()


def segment_notes(times: np.ndarray, f_midi: np.ndarray, voiced: np.ndarray, attack: np.ndarray,
                  hop_s: float) -> list[dict]:
    """Notes {onset, offset, midi, name} from a frame-level pitch (MIDI, tuning-corrected) and voicing.

    attack: (T,) relative attack strength; its peaks above ONSET_ATTACK split a held pitch.
    """
    if not np.any(voiced):
        return []
    q = np.round(ndi.median_filter(f_midi, size=7, mode="nearest")).astype(int)
    k = max(1, int(RISE_SECONDS / hop_s))
    rise_peak = (attack > ONSET_ATTACK) & (attack >= ndi.maximum_filter1d(attack, size=2 * k + 1, mode="nearest"))
    min_frames = max(1, int(MIN_NOTE / hop_s))
    notes: list[list] = []
    start = None
    for t in range(len(q) + 1):
        boundary = (t == len(q) or not voiced[t] or (start is not None and q[t] != q[start])
                    or (start is not None and rise_peak[t] and t - start >= min_frames))
        if start is not None and boundary:
            if t - start >= min_frames:
                notes.append([start, t, int(np.median(q[start:t]))])
            start = None
        if t < len(q) and voiced[t] and start is None:
            start = t
    # a held pitch briefly interrupted by a pitch glitch is one note
    merged: list[list] = []
    for n in notes:
        if merged and merged[-1][2] == n[2] and n[0] - merged[-1][1] <= 2 and not rise_peak[n[0]]:
            merged[-1][1] = n[1]
        else:
            merged.append(n)
    return [{"onset": round(float(times[s]), 3), "offset": round(float(times[min(e, len(times) - 1)]), 3),
             "midi": int(m), "name": f"{NOTE_NAMES[m % 12]}{m // 12 - 1}"} for s, e, m in merged]
