"""Key changes over time: the same profile scores as the global key (key.py) on 12 s windows of the music,
decoded by a 24-state HMM whose strong self-transition keeps passing chords from looking like key changes; and
the global key made to agree with that timeline, or the result saying why not.

The timeline reads the music alone: silence before and after neither makes a track long enough for one nor
counts in its shares (a stranger's 45 s of digital silence before 60 s of music had read "F major covers 55%
of the track" for 13 s of music).
"""

from __future__ import annotations

import numpy as np

from worker.camelot import parse_key, relative

from .key import CLOSE_RATIO, DEFAULT_PROFILES, PITCH_NAMES, key_label, key_scores, viterbi

WINDOW_SECONDS = 12.0  # key-change analysis window
WINDOW_HOP_SECONDS = 3.0
KEY_STAY = 0.97  # per-window probability of staying in the same key
MIN_KEY_SEGMENT = 15.0  # s, shorter excursions are tonicisations, not modulations
SILENT_WINDOW_SHARE = 0.02  # of the loudest frame's (window's) chroma sum: below it there is no harmony to read
MAJORITY_SHARE = 0.5  # a key segment covering more than this share of the track is the global key
# ... unless the key model gives that key under this share of its own key's probability: the timeline (12 s windows,
# profile correlations, the weaker method) must not overrule it there; the near-tie share of "key may also be".
TIMELINE_OVERRULES_RATIO = CLOSE_RATIO


def sounding_frames(chroma: np.ndarray) -> tuple[int, int] | None:
    """[first, last) frames of a (12, T) chroma from the first to the last that holds harmony (SILENT_WINDOW_SHARE),
    or None when none does: the span a key timeline reads and is measured over."""
    level = np.sqrt(np.maximum(chroma, 0.0)).sum(axis=0)
    loudest = float(level.max(initial=0.0))
    sounding = np.flatnonzero(level >= SILENT_WINDOW_SHARE * loudest)
    if loudest <= 0.0 or len(sounding) == 0:
        return None
    return int(sounding[0]), int(sounding[-1]) + 1


def key_timeline(chroma: np.ndarray, frame_times: np.ndarray, global_index: int, *, duration: float,
                 min_seconds: float) -> tuple[list[dict], float, float]:
    """(changes, start, end): key_changes of the music from `start` to `end` s (the first to the last frame that
    holds harmony), [] where that music lasts under `min_seconds` or does not modulate."""
    frames = sounding_frames(chroma)
    if frames is None or len(frame_times) < 2:
        return [], 0.0, duration
    a, b = frames
    start = float(frame_times[a])
    end = min(duration, float(frame_times[b - 1] + frame_times[1] - frame_times[0]))
    if end - start < min_seconds:
        return [], start, end
    return key_changes(chroma[:, a:b], frame_times[a:b], global_index), start, end


def key_changes(chroma: np.ndarray, frame_times: np.ndarray, global_index: int,
                profiles=DEFAULT_PROFILES) -> list[dict]:
    """The key timeline when the piece modulates: [{time, tonic, mode, label}], the first at 0 s. `chroma` is the
    music alone (key_timeline): a window that straddles leading silence reads the few seconds it holds as a key.

    Windowed key scores decoded by a sticky 24-state Viterbi; segments shorter than
    MIN_KEY_SEGMENT are merged back. A single segment (no modulation) gives [].
    """
    if chroma.shape[1] < 2:
        return []
    dt = float(frame_times[1] - frame_times[0])
    win = max(1, int(WINDOW_SECONDS / dt))
    hop = max(1, int(WINDOW_HOP_SECONDS / dt))
    if chroma.shape[1] < 2 * win:
        return []
    starts = np.arange(0, chroma.shape[1] - win + 1, hop)
    csum = np.concatenate([np.zeros((12, 1)), np.cumsum(np.sqrt(np.maximum(chroma, 0.0)), axis=1)], axis=1)
    windows = (csum[:, starts + win] - csum[:, starts]) / win  # (12, W)
    scores = key_scores(windows, profiles)  # (24, W)
    log_emit = 8.0 * scores  # sharpened correlations as log-likelihoods
    # a window of silence (or next to none) says nothing of the key: every key is as likely there, so the path
    # carries the key of the music beside it instead of the arbitrary best of an empty chroma
    level = windows.sum(axis=0)
    log_emit[:, level < SILENT_WINDOW_SHARE * float(level.max(initial=0.0))] = 0.0  # a gap inside the music
    trans = np.full((24, 24), np.log((1 - KEY_STAY) / 23))
    np.fill_diagonal(trans, np.log(KEY_STAY))
    prior = np.full(24, np.log(0.5 / 23))
    prior[global_index] = np.log(0.5)  # a mild preference for the global key at the start
    path = viterbi(log_emit, trans, prior)
    centres = frame_times[np.minimum(starts + win // 2, len(frame_times) - 1)]
    segs = _segments(path, centres)
    # merge short segments into their predecessor
    merged: list[list] = []
    for k, t0, t1 in segs:
        if merged and (t1 - t0 < MIN_KEY_SEGMENT or merged[-1][0] == k):
            merged[-1][2] = t1
        else:
            merged.append([k, t0, t1])
    if len(merged) > 1 and merged[0][2] - merged[0][1] < MIN_KEY_SEGMENT:
        merged[1][1] = merged[0][1]
        merged.pop(0)
    if len(merged) < 2:
        return []
    merged[0][1] = 0.0  # the first key holds from the start, over the silence before the music too
    out = []
    for k, t0, _ in merged:
        out.append({"time": round(float(t0), 2), "tonic": PITCH_NAMES[k % 12],
                    "mode": "major" if k < 12 else "minor", "label": key_label(k)})
    return out


def _segments(path: np.ndarray, centres: np.ndarray) -> list[tuple[int, float, float]]:
    segs = []
    start = 0
    for i in range(1, len(path) + 1):
        if i == len(path) or path[i] != path[start]:
            t0 = 0.0 if start == 0 else float((centres[start - 1] + centres[start]) / 2)
            t1 = float(centres[-1]) if i == len(path) else float((centres[i - 1] + centres[i]) / 2)
            segs.append((int(path[start]), t0, t1))
            start = i
    return segs


def key_coverage(changes: list[dict], duration: float, *, start: float = 0.0) -> dict[str, float]:
    """Share (0..1) of the music from `start` to `duration` s that each key of a key timeline covers."""
    cover: dict[str, float] = {}
    for i, ch in enumerate(changes):
        end = min(changes[i + 1]["time"] if i + 1 < len(changes) else duration, duration)
        span = max(0.0, end - max(ch["time"], start)) / max(duration - start, 1e-9)
        cover[ch["label"]] = cover.get(ch["label"], 0.0) + span
    return cover


def opening_disagreement(key: dict) -> str | None:
    """Where the key model's reading of the opening (`key["opening"]`, the first 12 s alone) and the key timeline's
    first segment name different keys, the clause that says so, else None. Both are printed (freezingpoint.ogg's
    .txt read "the first 12 s alone read A minor" and three lines later "starts in A major", as if they agreed):
    they are two estimators, the key model and the profile fit over WINDOW_SECONDS windows."""
    opening, changes = key.get("opening"), key.get("changes") or []
    if not opening or len(changes) < 2 or changes[0]["label"] == opening["label"]:
        return None
    # "another key" beside a timeline key that is the whole track's read as if it contradicted the global key
    # (frozen-bubble's introzik.ogg: "the whole track as A major; ... reads 0.0-111.5 s as A major, another key")
    other = "the whole track's key" if changes[0]["label"] == key.get("label") else \
        "the other mode" if changes[0]["tonic"] == opening["tonic"] else "another key"
    return (f"the key timeline ({WINDOW_SECONDS:.0f} s windows, profile fit) reads 0.0-{changes[1]['time']:.1f} s "
            f"as {changes[0]['label']}, {other}: the two readings of the opening disagree")


def relative_note(timeline: str, kept: str) -> str:
    """"; D# major is C minor's relative major (the same notes)" where the two keys are a relative pair, else "": a
    stranger's C minor at confidence 0.92 came with "D# major covers 68% of the track, C minor 0%", which read as
    the key being wrong, where the two name one scale from two tonics."""
    code = parse_key(timeline)
    if code is None or relative(code) != parse_key(kept):
        return ""
    return f"; {timeline} is {kept}'s relative {timeline.split()[1]} (the same notes)"


def reconcile_with_changes(key: dict, duration: float, *, start: float = 0.0) -> list[str]:
    """Make the global key agree with its own timeline: when one segment key covers most of the
    track and is not the global key, it becomes the global key (the previous one moves to the
    candidates), unless the key model read the global key and gives the segment key less than
    TIMELINE_OVERRULES_RATIO of its probability: then the global key stays and the warning says why
    (on the classical movements no fit saw, rendered whole, such overrides had replaced keys the model
    gave 0.99 with keys it gave 0.0001-0.14). The shares are of the music from `start` to `duration` s (the
    sounding span). Returns warnings that say what was done or why they still differ."""
    changes = key.get("changes") or []
    if key.get("index") is None or not changes:
        return []
    cover = key_coverage(changes, duration, start=start)
    top = max(cover, key=cover.__getitem__)
    if top == key["label"]:
        return []
    share = cover.get(key["label"], 0.0)
    if cover[top] <= MAJORITY_SHARE:
        return [f"the key moves: {key['label']} covers {share:.0%} of the track, {top} {cover[top]:.0%}"
                f"{relative_note(top, key['label'])}"]
    scores = key["_scores"]  # every key's, kept by estimate_key: the segment key may be none of the runner-ups
    if key.get("_probabilities") and scores[top] < TIMELINE_OVERRULES_RATIO * scores[key["label"]]:
        kept = key["label"]
        return [f"the key moves: {top} covers {cover[top]:.0%} of the track, {kept} {share:.0%}; the whole-track "
                f"key model keeps {kept} (probability {scores[kept]:.2f} against {scores[top]:.2f})"
                f"{relative_note(top, kept)}"]
    old = {k: key[k] for k in ("tonic", "mode", "label", "score")}
    i = int(next(j for j in range(24) if key_label(j) == top))
    key.update(tonic=PITCH_NAMES[i % 12], mode="major" if i < 12 else "minor", label=top, index=i,
               score=scores[top])
    if key.get("_probabilities"):
        # the confidence is the key model's probability of the key reported times how tonal the audio is,
        # here too: the whole-track reading's own confidence would vouch for a key it did not choose
        key["confidence"] = round(float(scores[top]) * float(key.get("_tonal", 1.0)), 3)
    key["candidates"] = [old] + [c for c in key["candidates"] if c["label"] != top]
    key["_from_timeline"] = True  # key_warnings: this warning already names the runner-up
    reading = "key model" if key.get("_probabilities") else "profile fit"
    return [f"global key set to {top}, the key of {cover[top]:.0%} of the track "
            f"(the whole-track {reading} preferred {old['label']})"]


def read_timeline(key: dict, chroma: np.ndarray, frame_times: np.ndarray, *, duration: float,
                  min_seconds: float) -> list[str]:
    """Fill `key["changes"]` (the key timeline of the music, key_timeline) and return the warnings it brings. With a
    key named, the global key is made to agree with its timeline (reconcile_with_changes). With none named though
    harmony sounds (`key["_harmony"]`), the timeline says which keys the music moves between, started from the
    nearest key: a stranger's 6-minute game track (freedroidrpg's Bleostrada.ogg) read "no key: ... harmony that
    moves between keys" with no word of which, where its first minute alone reads D minor at 0.79."""
    if key["index"] is not None:
        key["changes"], start, end = key_timeline(chroma, frame_times, key["index"], duration=duration,
                                                  min_seconds=min_seconds)
        return reconcile_with_changes(key, end, start=start)
    nearest = key.get("candidates") or []  # the key model's nearest keys, best first
    if not key.get("_harmony") or not nearest:
        return []
    index = next(j for j in range(24) if key_label(j) == nearest[0]["label"])
    key["changes"], start, end = key_timeline(chroma, frame_times, index, duration=duration, min_seconds=min_seconds)
    if not key["changes"]:
        return []
    cover = sorted(key_coverage(key["changes"], end, start=start).items(), key=lambda kv: -kv[1])
    shares = [f"{label} ({share:.0%} of it)" if i == 0 else f"{label} ({share:.0%})"
              for i, (label, share) in enumerate(cover)]
    listed = shares[0] if len(shares) == 1 else ", ".join(shares[:-1]) + f" and {shares[-1]}"
    return [f"no one key: the music moves between {listed}; the key changes say when"]

