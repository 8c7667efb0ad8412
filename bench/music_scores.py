"""Scoring metrics of the music analysis (mir_eval based), shared by the bench scripts and the tests.

All functions take the reference as the test set stores it and the estimate as `analyze_music`
returns it, and give floats in 0..1.
"""

from __future__ import annotations

import mir_eval
import numpy as np

F0_HOP = 0.01  # s, frame hop of reference f0 contours
TEMPO_TOLERANCE = 0.04  # relative, the MIREX tempo tolerance of Acc1/Acc2
ONSET_TOLERANCE = 0.05  # s, note onset tolerance
BEAT_ONSET_WINDOW = 0.07  # s, how close to an onset a beat must be to count as "on an onset"


def tempo_scores(ref: float, est: float | None) -> tuple[float, float]:
    """(Acc1, Acc2): the estimate within 4 % of the reference; or of 1/3, 1/2, 1, 2 or 3 times it."""
    if not est:
        return 0.0, 0.0

    def ok(e: float) -> bool:
        return abs(e - ref) <= TEMPO_TOLERANCE * ref

    return float(ok(est)), float(any(ok(est * f) for f in (1, 2, 3, 0.5, 1 / 3)))


def key_score(ref: str, est: str | None) -> float:
    """MIREX weighted key score (1 same key, 0.5 fifth, 0.3 relative, 0.2 parallel); no key scores 0."""
    if not est or est == "no key":
        return 0.0
    return float(mir_eval.key.weighted_score(ref, est))


def beat_f(ref, est) -> float:
    """Beat F-measure (70 ms window), the first 5 s trimmed as mir_eval does."""
    return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.asarray(ref, dtype=float)),
                                         mir_eval.beat.trim_beats(np.asarray(est, dtype=float))))


def metre_class(time_signature: str | int | None) -> tuple[str, str] | None:
    """("duple" | "triple", "simple" | "compound") of a time signature: 4/4 and 2/4 are duple simple,
    3/4 triple simple, 6/8 and 12/8 duple compound, 9/8 triple compound. An int is a simple metre
    of that many beats (the old beats_per_bar field)."""
    if time_signature is None:
        return None
    if isinstance(time_signature, int):
        time_signature = f"{time_signature}/4"
    num, den = (int(x) for x in str(time_signature).split("/"))
    compound = den == 8 and num % 3 == 0
    beats = num // 3 if compound else num
    return ("triple" if beats == 3 else "duple"), ("compound" if compound else "simple")


def chord_scores(ref: list, est: list, duration: float) -> tuple[float, float]:
    """(root, maj/min) duration-weighted chord accuracy; ref [[start, end, label]], est [{start, end, label}]."""
    ref_iv = np.array([[a, b] for a, b, _ in ref])
    ref_lab = [lab for *_, lab in ref]
    est_iv = np.array([[c["start"], c["end"]] for c in est])
    est_lab = [c["label"] for c in est]
    est_iv, est_lab = mir_eval.util.adjust_intervals(est_iv, est_lab, ref_iv.min(), ref_iv.max(),
                                                     mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD)
    iv, r, e = mir_eval.util.merge_labeled_intervals(ref_iv, ref_lab, est_iv, est_lab)
    dur = mir_eval.util.intervals_to_durations(iv)
    root = mir_eval.chord.weighted_accuracy(mir_eval.chord.root(r, e), dur)
    majmin = mir_eval.chord.weighted_accuracy(mir_eval.chord.majmin(r, e), dur)
    return float(root), float(majmin)


def ref_f0(notes: list, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Reference f0 contour (times, Hz; 0 unvoiced) of notes [[onset, offset, midi]]."""
    times = np.arange(0.0, duration, F0_HOP)
    f0 = np.zeros_like(times)
    for on, off, m in notes:
        f0[(times >= on) & (times < off)] = 440.0 * 2 ** ((m - 69) / 12)
    return times, f0


def melody_scores(truth: dict, times: np.ndarray, hz: np.ndarray, voiced: np.ndarray, notes: list,
                  duration: float) -> tuple[float, float, float]:
    """(raw pitch accuracy, note onset F1, note F1 with pitch) of a tracked melody against truth["melody_notes"]."""
    rt, rf = ref_f0(truth["melody_notes"], duration)
    est = np.where(voiced, hz, -np.abs(hz))
    est = np.where(est == 0, 0.0, est)
    ref_v, ref_c, est_v, est_c = mir_eval.melody.to_cent_voicing(rt, rf, times, est)
    rpa = mir_eval.melody.raw_pitch_accuracy(ref_v, ref_c, est_v, est_c)
    ref_iv = np.array([[a, b] for a, b, _ in truth["melody_notes"]])
    ref_p = np.array([440.0 * 2 ** ((m - 69) / 12) for *_, m in truth["melody_notes"]])
    if not notes:
        return float(rpa), 0.0, 0.0
    est_iv = np.array([[n["onset"], max(n["offset"], n["onset"] + 0.01)] for n in notes])
    est_p = np.array([440.0 * 2 ** ((n["midi"] - 69) / 12) for n in notes])
    _, _, onset_f = mir_eval.transcription.onset_precision_recall_f1(ref_iv, est_iv, onset_tolerance=ONSET_TOLERANCE)
    _, _, note_f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_iv, ref_p, est_iv, est_p, onset_tolerance=ONSET_TOLERANCE, offset_ratio=None)
    return float(rpa), float(onset_f), float(note_f)


def beats_on_onsets(beats, onsets) -> float:
    """Share of beats within BEAT_ONSET_WINDOW of a detected onset: a listening-free check of beats on
    recordings without annotations (a grid off the music lands on onsets only by chance)."""
    beats = np.asarray(beats, dtype=float)
    onsets = np.sort(np.asarray(onsets, dtype=float))
    if len(beats) == 0 or len(onsets) == 0:
        return 0.0
    idx = np.clip(np.searchsorted(onsets, beats), 1, len(onsets) - 1)
    near = np.minimum(np.abs(onsets[idx] - beats), np.abs(onsets[idx - 1] - beats))
    return float(np.mean(near <= BEAT_ONSET_WINDOW))


def print_main_vs_candidate(per: dict[str, dict[str, list]], columns: tuple[str, ...]) -> None:
    """Per family and overall, each column's mean as `main -> candidate`; per[family] = {"main": [...], "cand":
    [...]}, rows of scores in `columns`' order (NaN: not scored). Overall is the mean of the families, as
    bench/pitch_accuracy.py's."""
    print(f"{'family':10s} {'n':>4s}  " + "  ".join(f"{h:>14s}" for h in columns))
    means = {f: (np.nanmean(np.array(v["main"]), axis=0), np.nanmean(np.array(v["cand"]), axis=0))
             for f, v in sorted(per.items())}
    k = range(len(columns))
    for f, (a, c) in means.items():
        print(f"{f:10s} {len(per[f]['main']):4d}  " + "  ".join(f"{a[i]:.3f} -> {c[i]:.3f}" for i in k))
    if len(means) > 1:
        a, c = (np.nanmean([m[j] for m in means.values()], axis=0) for j in (0, 1))
        print(f"{'overall':10s} {sum(len(v['main']) for v in per.values()):4d}  "
              + "  ".join(f"{a[i]:.3f} -> {c[i]:.3f}" for i in k))
