"""Where the tracked beats run away from the tempo given: the stretches (`tempo_changes` in the result) and the
"tempo changes" warning that names them beside the tempo given.

The tempo given (`tempo_bpm`) is the comb over the whole track's beat activation (or its first half's where the
tempo steps, beats.tempo_of_a_changing_piece); the beats follow the local period in 6-beat windows
(beat_tracking.local_periods). The warning had compared the median beat of the first and last thirds alone: a
stranger's credits1-cp.ogg (extremetuxracer-data) read "93.4 BPM" beside "tempo changes: about 92 BPM at the start,
71 BPM at the end", where its beats go back and forth between 93 and 70 BPM (3/4 of it), at 70 in six stretches and over
most of the track, while every 20 s of its activation reads 93.4.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi

TEMPO_CHANGE_SHARE = 0.08  # beats more than this share faster or slower than the tempo given run at another tempo
MIN_STRETCH_BEATS = 4  # ... for at least this many beats in a row (a fill or one misplaced beat is no change)
SMOOTH_BEATS = 5  # beat intervals in the median filter before they are compared
MAX_LISTED = 8  # stretches named in the warning (all are in the JSON)
# beats away from the tempo given over less of their span than this keep it throughout (no stretches, no warning):
# a stranger's oriental.ogg (hedgewars-data), 160 BPM for 207 s, was warned of "about 178 BPM at 107.2-108.9 s
# (1% of their span)"
MIN_AWAY_SHARE = 0.03
# tempi of one pulse grouped otherwise (3 beats of 4, 2 of 3, ...): the ratios the warning names where the beats
# go back and forth between two tempi, which a piece that changes tempo once does not
PULSE_RATIOS = {0.5: "1/2", 2 / 3: "2/3", 0.75: "3/4", 4 / 3: "4/3", 1.5: "3/2", 2.0: "2"}
RATIO_TOLERANCE = 0.03
# where the tracked beats keep one other tempo over at least this share of their span, and it is a simple ratio of
# the comb's (PULSE_RATIOS: the comb took a grouping of the pulse the beats follow), that tempo is the one given and
# the comb's is named in a warning: warzone2100-music's track15 was given the comb's 106.7 BPM where its beats keep
# ~162 over 84 % of the track (3/2; madmom and Essentia ~162), extremetuxracer's credits1-cp 93.4 where they keep
# 70 over 64 % (3/4; both anchors 140). A tempo the beats drift to in no such ratio is the tracker's, not the music's.
KEPT_TEMPO_SHARE = 0.6


def tempo_stretches(beats: np.ndarray, tempo: float | None) -> list[dict]:
    """[{start, end, bpm}] from the first to the last beat: the stretches at the tempo given and those whose beats
    run more than TEMPO_CHANGE_SHARE away from it for MIN_STRETCH_BEATS or more, each with its median BPM; []
    where the beats keep the tempo given throughout, or leave it over less than MIN_AWAY_SHARE of their span."""
    if tempo is None or len(beats) < 2 * MIN_STRETCH_BEATS + 1:
        return []
    ibi = np.diff(np.asarray(beats, dtype=np.float64))
    smooth = ndi.median_filter(ibi, size=SMOOTH_BEATS, mode="nearest")
    off = np.abs(60.0 / np.maximum(smooth, 1e-9) / tempo - 1.0) > TEMPO_CHANGE_SHARE
    runs = _runs(off)
    for i, (is_off, a, b) in enumerate(runs):  # short excursions keep the tempo given
        if is_off and b - a < MIN_STRETCH_BEATS:
            runs[i] = (False, a, b)
    merged = _absorb_short_returns(_merged(runs), ibi, tempo=tempo)
    if not any(is_off for is_off, _, _ in merged):
        return []
    stretches = [{"start": round(float(beats[a]), 2), "end": round(float(beats[b]), 2),
                  "bpm": round(float(60.0 / np.median(ibi[a:b])), 1)} for _, a, b in merged]
    return stretches if away_share(stretches, tempo) >= MIN_AWAY_SHARE else []


def _merged(runs: list[tuple[bool, int, int]]) -> list[tuple[bool, int, int]]:
    """Neighbouring runs of one kind as one."""
    out: list[tuple[bool, int, int]] = []
    for is_off, a, b in runs:
        if out and out[-1][0] == is_off:
            out[-1] = (is_off, out[-1][1], b)
        else:
            out.append((is_off, a, b))
    return out


def _absorb_short_returns(runs: list[tuple[bool, int, int]], ibi: np.ndarray, *,
                          tempo: float) -> list[tuple[bool, int, int]]:
    """A return to the tempo given for fewer than MIN_STRETCH_BEATS between two stretches at one other tempo is a
    wobble within that stretch: a stranger's Freeway.ogg (hedgewars-data) was warned of "about 157 BPM at
    70.3-118.5, 119.0-121.0, 121.5-133.5, 134.1-136.0 s", one stretch split three times by a single beat. So is a
    short return whose own beats run away from the tempo given (the median filter put it just inside
    TEMPO_CHANGE_SHARE): hedgewars' Desert.ogg (160 BPM given) got "tempo_changes" 0.02-6.87 s at 139.7 BPM then
    6.87-7.3 s at 139.7 BPM, a stretch "at the tempo given" reading 139.7, and the warning "about 132 BPM at
    0.0-6.9, 6.9-7.3, 7.3-14.3 s". A return between a slower and a faster stretch stays, as one stretch of both
    would read a tempo near the tempo given, unless its own beats run at one neighbour's tempo: then it is the start
    or end of that stretch (Desert again, "about 185 BPM at ... 265.9-266.6, 266.6-268.9 s" after 132 BPM)."""
    bpm = [60.0 / float(np.median(ibi[a:b])) for _, a, b in runs]
    out = list(runs)
    joins = [False] * max(len(runs) - 1, 0)  # joins[i]: runs i and i + 1 are one stretch
    for i in range(1, len(runs) - 1):
        is_off, a, b = runs[i]
        if not is_off and b - a < MIN_STRETCH_BEATS and runs[i - 1][0] and runs[i + 1][0]:
            away = abs(bpm[i] / tempo - 1.0) > TEMPO_CHANGE_SHARE
            # the return's own beats away on the side both neighbours are (all slower or all faster): the stretch
            # they make together reads a tempo on that side too, not one near the tempo given
            one_side = away and len({bool(x > tempo) for x in (bpm[i - 1], bpm[i], bpm[i + 1])}) == 1
            if abs(bpm[i - 1] / bpm[i + 1] - 1.0) <= TEMPO_CHANGE_SHARE or one_side:
                out[i] = (True, a, b)
                joins[i - 1] = joins[i] = True
            elif away:  # at one neighbour's tempo (they differ, so it can be near one only)
                near = [j for j in (i - 1, i + 1) if abs(bpm[i] / bpm[j] - 1.0) <= TEMPO_CHANGE_SHARE]
                if near:
                    out[i] = (True, a, b)
                    joins[min(i, near[0])] = True
    joined: list[tuple[bool, int, int]] = []
    for i, run in enumerate(out):
        if i > 0 and joins[i - 1]:
            joined[-1] = (True, joined[-1][1], run[2])
        else:
            joined.append(run)
    return _merged_kept_apart(joined)


def _merged_kept_apart(runs: list[tuple[bool, int, int]]) -> list[tuple[bool, int, int]]:
    """Neighbouring runs at the tempo given as one; neighbouring stretches away from it stay apart (a slower
    and a faster one meet where a return between them joined one of them)."""
    out: list[tuple[bool, int, int]] = []
    for is_off, a, b in runs:
        if out and not is_off and not out[-1][0]:
            out[-1] = (False, out[-1][1], b)
        else:
            out.append((is_off, a, b))
    return out


def _runs(flags: np.ndarray) -> list[tuple[bool, int, int]]:
    out, start = [], 0
    for i in range(1, len(flags) + 1):
        if i == len(flags) or flags[i] != flags[start]:
            out.append((bool(flags[start]), start, i))
            start = i
    return out


def tempo_change_warning(stretches: list[dict], tempo: float) -> list[str]:
    """The warning that names the stretches away from the tempo given, and how it relates to them."""
    away = [s for s in stretches if _is_away(s, tempo)]
    if not away:
        return []
    share = away_share(stretches, tempo)
    if len(away) == 1 and away[0] is stretches[-1] and len(stretches) == 2:  # one step or ramp, to the end
        return [f"tempo changes: {tempo:.0f} BPM (the tempo given) until {away[0]['start']:.1f} s, then about "
                f"{away[0]['bpm']:.0f} BPM to the end"]
    groups = _by_tempo(away)  # stretches at one tempo are listed together
    parts = []
    for group in groups.values():
        spans = ", ".join(f"{s['start']:.1f}-{s['end']:.1f}" for s in group[:MAX_LISTED])
        more = f" and {len(group) - MAX_LISTED} more" if len(group) > MAX_LISTED else ""
        parts.append(f"about {np.median([s['bpm'] for s in group]):.0f} BPM at {spans} s{more}")
    text = (f"tempo changes: the beats run at {'; '.join(parts)} ({share:.0%} of their span) and at the tempo given, "
            f"{tempo:.0f} BPM, elsewhere")
    if share > 0.5:
        text += " (the tempo given is the comb's over the whole track, not the one the beats keep longest)"
    ratio = _pulse_ratio(groups, tempo)
    if ratio:
        bpm = np.median([s["bpm"] for s in away])
        text += (f"; {bpm:.0f} is {ratio} of {tempo:.0f} and the two alternate: perhaps one pulse grouped in "
                 f"other numbers of beats, not a change of tempo")
    return [text]


def kept_tempo(beats: np.ndarray, stretches: list[dict], tempo: float) -> tuple[float, float] | None:
    """(BPM, share of the span) of the one tempo other than `tempo`, in a PULSE_RATIOS ratio to it, that the beats
    keep over KEPT_TEMPO_SHARE or more of their span (stretches within TEMPO_CHANGE_SHARE of each other count
    together), or None."""
    away = [s for s in stretches if _is_away(s, tempo)]
    if not away:
        return None
    span = stretches[-1]["end"] - stretches[0]["start"]
    b = np.asarray(beats, dtype=np.float64)
    for group in _by_tempo(away).values():
        share = sum(s["end"] - s["start"] for s in group) / max(span, 1e-9)
        if share < KEPT_TEMPO_SHARE:
            continue
        ibi = np.concatenate([np.diff(b[(b >= s["start"] - 1e-3) & (b <= s["end"] + 1e-3)]) for s in group])
        bpm = 60.0 / float(np.median(ibi)) if len(ibi) else 0.0
        if any(abs(bpm / tempo / r - 1.0) <= RATIO_TOLERANCE for r in PULSE_RATIOS):
            return bpm, share
    return None


def _by_tempo(stretches: list[dict]) -> dict[float, list[dict]]:
    """The stretches grouped by tempo: each joins the first group whose tempo is within TEMPO_CHANGE_SHARE of its."""
    groups: dict[float, list[dict]] = {}
    for s in stretches:
        near = next((g for g in groups if abs(s["bpm"] / g - 1.0) <= TEMPO_CHANGE_SHARE), s["bpm"])
        groups.setdefault(near, []).append(s)
    return groups


def away_share(stretches: list[dict], tempo: float) -> float:
    """The share of the beats' span (first to last beat, which the stretches cover end to end) away from `tempo`."""
    if not stretches:
        return 0.0
    span = stretches[-1]["end"] - stretches[0]["start"]
    return sum(s["end"] - s["start"] for s in stretches if _is_away(s, tempo)) / max(span, 1e-9)


def _is_away(stretch: dict, tempo: float) -> bool:
    return abs(stretch["bpm"] / tempo - 1.0) > TEMPO_CHANGE_SHARE


def _pulse_ratio(groups: dict[float, list[dict]], tempo: float) -> str | None:
    """The simple ratio of the one tempo the beats leave the tempo given for, more than once, or None."""
    if len(groups) != 1:
        return None
    (bpm, group), = groups.items()
    if len(group) < 2:
        return None
    return next((name for r, name in PULSE_RATIOS.items() if abs(bpm / tempo / r - 1.0) <= RATIO_TOLERANCE), None)
