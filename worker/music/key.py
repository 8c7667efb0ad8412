"""Key estimation: tuned key profiles on a whitened harmonic chroma (and the key model, keymodel.py), the
opening's reading and the warnings a key carries. Key changes over time are in key_timeline.py.

The global key correlates the track's mean chroma with 24 rotated profiles.
"""

from __future__ import annotations

import numpy as np

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# Krumhansl & Kessler (1982) probe-tone ratings: the textbook baseline.
KRUMHANSL = (
    np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
    np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
)
# Temperley (2007), from the Kostka-Payne harmony corpus.
TEMPERLEY = (
    np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400]),
    np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330]),
)
# Albrecht & Shanahan (2013), pitch-class distributions of 490 pieces.
ALBRECHT_SHANAHAN = (
    np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081]),
    np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052]),
)
# Fitted here: mean tonic-rotated chroma (square-rooted frames, as estimate_key reads them)
# of the *train* split of bench/pitch_testset.py (44 items: pattern songs and Bach chorales,
# `python bench/pitch_accuracy.py --fit-profiles`); bench/pitch_accuracy.py scores the
# disjoint test split. On that split they beat Temperley (0.84) and Albrecht-Shanahan (0.86).
FITTED = (
    np.array([0.1484, 0.0214, 0.1312, 0.0116, 0.1328, 0.0783, 0.0468, 0.1698, 0.0217, 0.1106, 0.0104, 0.1172]),
    np.array([0.1520, 0.0105, 0.1169, 0.1237, 0.0372, 0.0965, 0.0284, 0.1693, 0.0687, 0.0520, 0.0896, 0.0553]),
)
DEFAULT_PROFILES = FITTED
# Evidence beyond the mean treble chroma, profiles fitted the same way on the same train split
# (76 items, square-rooted frames): the mean bass chroma, and the treble and bass chroma of the
# opening OPENING_SECONDS, since pieces mostly begin on the tonic chord. They mainly settle the
# relative major/minor pair, which shares every note of the natural minor scale.
BASS_PROFILES = (
    np.array([0.1705, 0.0668, 0.0770, 0.0575, 0.0825, 0.0902, 0.0793, 0.1078, 0.0635, 0.0766, 0.0393, 0.0891]),
    np.array([0.1492, 0.0647, 0.0602, 0.0797, 0.0603, 0.0846, 0.0755, 0.1307, 0.0881, 0.0546, 0.0612, 0.0912]),
)
OPENING_PROFILES = (
    np.array([0.1965, 0.0166, 0.1145, 0.0123, 0.1588, 0.0459, 0.0297, 0.1934, 0.0246, 0.0741, 0.0149, 0.1186]),
    np.array([0.2029, 0.0142, 0.1173, 0.1573, 0.0446, 0.0359, 0.0198, 0.2154, 0.0307, 0.0254, 0.0861, 0.0504]),
)
OPENING_BASS_PROFILES = (
    np.array([0.2287, 0.0898, 0.0584, 0.0615, 0.0791, 0.0496, 0.0442, 0.0858, 0.0564, 0.0826, 0.0419, 0.1220]),
    np.array([0.2506, 0.1183, 0.0453, 0.0520, 0.0410, 0.0445, 0.0501, 0.1127, 0.0626, 0.0425, 0.0434, 0.1371]),
)
# Weights of (mean chroma, mean bass, opening chroma, opening bass) correlations, chosen by
# leave-one-out log-likelihood of the true key on the train split (0.28 -> 0.12 nats).
EVIDENCE_WEIGHTS = (1.0, 0.1, 0.25, 0.1)
OPENING_SECONDS = 2.0  # about a bar: long enough to span a pickup, short enough to stay on the first chord
SOUNDING_LEVEL = 0.1  # frame energy, relative to the median, above which the piece has started

NO_KEY_CORRELATION = 0.6  # below this best correlation the chroma is not tonal enough
WEAK_TONAL_FIT = 0.4  # a profile fit this low still gets a key when the key model is clear about it
CLEAR_KEY_PROBABILITY = 0.5  # ... i.e. gives one key at least this probability
# ... and the sound is mostly sustained (HPSS): white noise scores 0.25, a drum loop 0.18, distorted
# guitar tracks 0.5-0.65 (their mean chroma fits a profile at 0.45-0.56 only)
WEAK_KEY_HARMONIC_RATIO = 0.4
NO_KEY_HARMONIC_RATIO = 0.15  # HPSS share of harmonic energy below which we do not trust a key
# Whether there is harmony to read at all, from the whole track's key chroma (key_chroma, as shares of its
# largest pitch class): one pitch class alone (a test tone: a 440 Hz sine read as D major or D minor) or twelve
# alike (noise: read as C minor) name no key, so no chords either. A power-chord riff still sounds two pitch
# classes and their harmonics.
SOUNDING_SHARE = 0.3  # a pitch class at least this share of the largest one sounds
FLAT_CHROMA_SHARE = 0.8  # ... and when even the weakest is this share of the largest, none stands out


def key_label(index: int) -> str:
    """0..11 major C..B, 12..23 minor C..B -> 'C major', 'A minor'..."""
    return f"{PITCH_NAMES[index % 12]} {'major' if index < 12 else 'minor'}"


def profile_matrix(profiles=DEFAULT_PROFILES) -> np.ndarray:
    """(24, 12) zero-mean, unit-norm rotated profiles: rows 0-11 major, 12-23 minor."""
    rows = []
    for prof in profiles:
        p = np.asarray(prof, dtype=np.float64)
        for tonic in range(12):
            rows.append(np.roll(p, tonic))
    m = np.array(rows)
    m -= m.mean(axis=1, keepdims=True)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m


def key_chroma(chroma: np.ndarray) -> np.ndarray:
    """(12,) summary of a (12, T) chroma for key finding: the mean of square-rooted frames,
    which keeps a few loud chords from outweighing the rest of the piece."""
    return np.sqrt(np.maximum(chroma, 0.0)).mean(axis=1) if chroma.size else np.zeros(12)


def key_evidence(chroma: np.ndarray, bass: np.ndarray | None, energy: np.ndarray | None,
                 frame_times: np.ndarray | None) -> list[np.ndarray | None]:
    """(12,) summaries of (12, T) chroma and bass, in EVIDENCE_WEIGHTS order: whole-piece means
    and means over the first OPENING_SECONDS after the piece starts sounding. Missing inputs give None."""
    out: list[np.ndarray | None] = [key_chroma(chroma), None, None, None]
    if bass is None or energy is None or frame_times is None or len(frame_times) < 2 or not chroma.size:
        return out
    out[1] = key_chroma(bass)
    loud = energy[energy > 0]
    sounding = np.flatnonzero(energy > SOUNDING_LEVEL * float(np.median(loud))) if loud.size else np.zeros(0, int)
    start = int(sounding[0]) if sounding.size else 0
    n = max(1, int(OPENING_SECONDS / float(frame_times[1] - frame_times[0])))
    out[2] = key_chroma(chroma[:, start:start + n])
    out[3] = key_chroma(bass[:, start:start + n])
    return out


def key_scores(chroma_vec: np.ndarray, profiles=DEFAULT_PROFILES) -> np.ndarray:
    """Pearson correlation of a (12,) or (12, T) chroma with the 24 keys -> (24,) or (24, T)."""
    x = np.asarray(chroma_vec, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    norm = np.linalg.norm(x, axis=0, keepdims=True)
    x = x / np.where(norm > 0, norm, 1.0)
    return profile_matrix(profiles) @ x


def estimate_key(chroma: np.ndarray, *, harmonic_ratio: float = 1.0, profiles=DEFAULT_PROFILES,
                 n_candidates: int = 4, bass: np.ndarray | None = None, energy: np.ndarray | None = None,
                 frame_times: np.ndarray | None = None) -> dict:
    """Global key of a (12, T) chroma.

    With the (12, T) bass chroma, the (T,) frame energy and the (T,) frame times, the mean-chroma
    correlations are blended with the bass and opening evidence (EVIDENCE_WEIGHTS); whether the
    audio is tonal at all is still judged on the mean chroma alone.
    Returns {tonic, mode, label, confidence, candidates: [{tonic, mode, label, score}]};
    tonic/mode/label are None when the audio is not tonal enough (drums, noise, silence). With the key model,
    `opening` {tonic, mode, label, score} is added when the track's first 12 s, read alone, clearly name
    another key (probability at least CLEAR_KEY_PROBABILITY): where that happens the whole track's key is
    right less often (grouped cross-validation on fit data: 0.77 against 0.95 exact; the classical movements
    no fit saw: 0.78 against 0.94 weighted), so key_warnings says so.
    """
    mean = key_chroma(chroma)
    if not np.any(mean > 0):
        return _no_key([], 0.0)
    no_harmony = harmony_missing(mean)
    if no_harmony:
        return _no_key([], 0.0, note=no_harmony)
    tonal_fit = float(np.max(key_scores(mean, profiles)))
    probs = None
    if bass is not None and energy is not None and frame_times is not None:
        from .keymodel import key_reading

        reading = key_reading(chroma, bass, energy, frame_times)
        probs, home = reading if reading is not None else (None, None)
    if probs is not None:
        from .keymodel import OPENING_SECONDS, opening_probabilities, opening_span

        assert bass is not None and energy is not None and frame_times is not None  # probs needs them
        found = _model_key(probs, tonal_fit, harmonic_ratio, n_candidates, home=home)
        if found["index"] is not None:
            a, b = opening_span(energy, frame_times, OPENING_SECONDS)
            opening_chroma = key_chroma(chroma[:, a:b])
            opening_fit = float(np.max(key_scores(opening_chroma, profiles))) if np.any(opening_chroma > 0) else 0.0
            opening = opening_key(opening_probabilities(chroma, bass, energy, frame_times), found["index"],
                                  fit=opening_fit, tonal=tonal_strength(opening_fit, harmonic_ratio))
            if opening is not None:
                found["opening"] = opening
        return found
    scores = np.zeros(24)
    used = 0.0
    sets = (profiles, BASS_PROFILES, OPENING_PROFILES, OPENING_BASS_PROFILES)
    for vec, prof, weight in zip(key_evidence(chroma, bass, energy, frame_times), sets, EVIDENCE_WEIGHTS, strict=True):
        if vec is not None and np.any(vec > 0):
            scores += weight * key_scores(vec, prof)
            used += weight
    scores /= used  # back on the correlation scale of the mean chroma alone
    order = np.argsort(scores)[::-1]
    candidates = [{"tonic": PITCH_NAMES[i % 12], "mode": "major" if i < 12 else "minor",
                   "label": key_label(int(i)), "score": round(float(scores[i]), 4)} for i in order[:n_candidates]]
    # Confidence blends how well the best profile fits with its margin over the runner-up;
    # the relative major/minor pair shares most notes, so a small margin is common and honest.
    fit = np.clip((tonal_fit - NO_KEY_CORRELATION) / (0.95 - NO_KEY_CORRELATION), 0.0, 1.0)
    margin = np.clip(float(scores[order[0]] - scores[order[1]]) / 0.15, 0.0, 1.0)
    tonal = np.clip(harmonic_ratio / 0.5, 0.0, 1.0)
    confidence = float(np.round(tonal * (0.6 * fit + 0.4 * margin), 3))
    if tonal_fit < NO_KEY_CORRELATION or harmonic_ratio < NO_KEY_HARMONIC_RATIO:
        return _no_key(candidates, min(confidence, 0.2))
    i = int(order[0])
    return {"tonic": PITCH_NAMES[i % 12], "mode": "major" if i < 12 else "minor", "label": key_label(i),
            "index": i, "confidence": confidence, "score": candidates[0]["score"], "candidates": candidates[1:],
            "changes": [], "_scores": {key_label(j): round(float(scores[j]), 4) for j in range(24)}}


def harmony_missing(mean: np.ndarray) -> str | None:
    """Why a (12,) key chroma holds no harmony to read a key from (see SOUNDING_SHARE), or None."""
    share = mean / float(mean.max())
    if int(np.sum(share >= SOUNDING_SHARE)) < 2:
        return f"one pitch class ({PITCH_NAMES[int(np.argmax(mean))]}) sounds alone: no harmony to read a key from"
    if float(share.min()) >= FLAT_CHROMA_SHARE:
        return NOISE_NOTE
    return None


def opening_key(opening: np.ndarray | None, index: int, *, fit: float = 1.0, tonal: float = 1.0) -> dict | None:
    """{tonic, mode, label, score, confidence} of the opening's reading (24 probabilities) where it names another
    key than key index `index` with at least CLEAR_KEY_PROBABILITY, else None. `fit`: the opening's best profile
    correlation; below WEAK_TONAL_FIT the opening holds no harmony to read (drums, a chordless intro) and there
    is no reading. The confidence is the probability times how tonal the opening is (`tonal`), as the whole
    track's is: the model, fitted on whole pieces, gives 12 s of drums 0.98 (two strangers' Wesnoth openings)."""
    if opening is None or fit < WEAK_TONAL_FIT:
        return None
    j = int(np.argmax(opening))
    if j == index or opening[j] < CLEAR_KEY_PROBABILITY:
        return None
    return {"tonic": PITCH_NAMES[j % 12], "mode": "major" if j < 12 else "minor", "label": key_label(j),
            "score": round(float(opening[j]), 4), "confidence": round(float(opening[j]) * tonal, 3)}


def tonal_strength(tonal_fit: float, harmonic_ratio: float) -> float:
    """0..1: how tonal the chroma is (best profile correlation) times how harmonic the sound is."""
    fit = np.clip((tonal_fit - WEAK_TONAL_FIT) / (0.95 - WEAK_TONAL_FIT), 0.0, 1.0)
    return float(np.sqrt(fit) * np.clip(harmonic_ratio / 0.5, 0.0, 1.0))


def _model_key(probs: np.ndarray, tonal_fit: float, harmonic_ratio: float, n_candidates: int, *,
               home: int | None = None) -> dict:
    """Key dict from the key model's probabilities; scores are probabilities, and the confidence is
    the reported key's probability scaled by how tonal the audio is (drums and noise get little). `home`: the
    home key (keymodel.home_key) to report before the most probable one, which becomes the first candidate."""
    order = np.argsort(probs)[::-1]
    if home is not None:
        order = np.concatenate([[home], order[order != home]])
    candidates = [{"tonic": PITCH_NAMES[i % 12], "mode": "major" if i < 12 else "minor",
                   "label": key_label(int(i)), "score": round(float(probs[i]), 4)} for i in order[:n_candidates]]
    tonal = tonal_strength(tonal_fit, harmonic_ratio)
    confidence = round(float(probs[order[0]]) * tonal, 3)
    # distorted guitars and dense mixes flatten the mean chroma (a weak profile fit) while chords and
    # bass still name the key: then the model's clear preference is reported, with the lower confidence
    weak_but_clear = (tonal_fit >= WEAK_TONAL_FIT and float(probs.max()) >= CLEAR_KEY_PROBABILITY
                      and harmonic_ratio >= WEAK_KEY_HARMONIC_RATIO)
    if (tonal_fit < NO_KEY_CORRELATION and not weak_but_clear) or harmonic_ratio < NO_KEY_HARMONIC_RATIO:
        return _no_key(candidates, min(confidence, 0.2))
    i = int(order[0])
    return {"tonic": PITCH_NAMES[i % 12], "mode": "major" if i < 12 else "minor", "label": key_label(i),
            "index": i, "confidence": confidence, "score": candidates[0]["score"], "candidates": candidates[1:],
            "changes": [], "_probabilities": True, "_tonal": tonal, "_home": home is not None,
            "_scores": {key_label(j): round(float(probs[j]), 4) for j in range(24)}}


NO_KEY_NOTE = "no clear tonal centre (percussion, noise or silence)"
NOISE_NOTE = "every pitch class sounds alike (noise): no harmony to read a key from"  # harmony_missing's
# a clip too short for a key whose sound fits none may be a spoken word, whose voice is pitched: "percussion, noise or
# silence" and "nothing pitched sounds" had been said of 22 of a stranger's 40 one-word clips (KLettres' syllables)
TOO_SHORT_TO_TELL = "too short to tell percussion or noise from a spoken word"


def too_short_note(seconds: float) -> str:
    """The note of a clip under SHORT_FOR_A_KEY_SECONDS (pipeline) that shows no tonal centre."""
    return f"{seconds:.1f} s is {TOO_SHORT_TO_TELL}"


NO_TUNING_NOTE = "nothing pitched sounds (percussion or noise): no tuning to read"
# no tonal centre where HPSS calls most of the sound percussive, yet the melody tracker found notes: drums over a thin
# melody or held notes (nexuiz-music's infight and subcities, 578 and 1921 notes, chromagrams holding C# and E, had read
# "percussion, noise or silence" and "nothing pitched sounds"); the key and tuning decisions are those of NO_KEY_NOTE
# (not "pitched notes sound": a drum loop's kick sweeps and toms are notes to the melody tracker too, and the words
# must hold for drums alone as for drums over a tune)
DRUMS_OVER_NOTES = "drums or noise carry most of the sound"
DRUMS_TUNING_NOTE = "drums or noise carry most of the sound and sway a tuning reading: no tuning to read"


def drums_note(harmonic_ratio: float) -> str:
    """The key note of a no-key sound holding melody notes under drums or noise (DRUMS_OVER_NOTES)."""
    return f"{DRUMS_OVER_NOTES} ({harmonic_ratio:.0%} of it harmonic): too little harmony to name a key"


def unpitched_tuning_note(key: dict) -> str | None:
    """Why a key-less sound gets no tuning where its key says it may hold nothing pitched (noise and drums give the
    tuning scan peaks too: a stranger's white noise read "+39 cents" beside "no clear key"), else None."""
    if key["index"] is not None:
        return None
    note = str(key.get("note"))
    return f"{note}: no tuning to read" if TOO_SHORT_TO_TELL in note else \
        NO_TUNING_NOTE if note in (NO_KEY_NOTE, NOISE_NOTE) else DRUMS_TUNING_NOTE if DRUMS_OVER_NOTES in note else None


def _no_key(candidates: list, confidence: float, *, note: str = NO_KEY_NOTE) -> dict:
    return {"tonic": None, "mode": None, "label": "no key", "index": None, "confidence": round(confidence, 3),
            "candidates": candidates, "changes": [], "note": note}


def viterbi(log_emit: np.ndarray, log_trans: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """Most likely state path of a small HMM: log_emit (S, T), log_trans (S, S) from->to."""
    n_states, n_frames = log_emit.shape
    back = np.zeros((n_frames, n_states), dtype=np.int32)
    delta = log_prior + log_emit[:, 0]
    for t in range(1, n_frames):
        cand = delta[:, None] + log_trans
        back[t] = np.argmax(cand, axis=0)
        delta = cand[back[t], np.arange(n_states)] + log_emit[:, t]
    path = np.zeros(n_frames, dtype=np.int32)
    path[-1] = int(np.argmax(delta))
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


UNCERTAIN_KEY_CONFIDENCE = 0.35  # below this a key is reported with a warning
CLOSE_SCORE = 0.02  # runner-up correlation this close to the best: the two keys are hard to tell apart
CLOSE_RATIO = 0.5  # ... or, with the key model, a runner-up at least this share of the best's probability


# A tuning read within this many cents of +-50 may lie on the other side of the half semitone, where every key name
# moves a semitone (a stranger's lincity.ogg: F minor at +48.6 cents, librosa's F# minor at -48). On 13 Debian game
# tracks our tuning and librosa's differ by a median 3.5 cents and at most 8.8 (a track whose tuning drifts 18
# cents between its halves), and on the test set's 27 pattern songs detuned by 10-40 cents our reading is off by a
# median 2.1 cents, at most 7.3: 8 cents is what a reading may be off by. One test item (pattern_065, detuned -38,
# read -45.3) gets the warning; key figures score the label, not the confidence, so none moves.
SEMITONE_EDGE_CENTS = 8.0


def tuning_edge(key: dict, tuning_cents: float) -> list[str]:
    """Where the tuning is within SEMITONE_EDGE_CENTS of +-50, a warning naming the key a semitone up (sharp) or
    down (flat), and the confidence scaled from 1 at the band's inner edge to 0.5 at 50 cents, where the two
    names are equally right. [] and no change elsewhere or without a key."""
    margin = 50.0 - abs(tuning_cents)
    if key.get("index") is None or margin >= SEMITONE_EDGE_CENTS:
        return []
    step = 1 if tuning_cents > 0 else -1
    other = key_label((key["index"] + step) % 12 + (12 if key["index"] >= 12 else 0))
    key["confidence"] = round(key["confidence"] * (0.5 + 0.5 * max(margin, 0.0) / SEMITONE_EDGE_CENTS), 3)
    side, way = ("sharp", "up") if step > 0 else ("flat", "down")
    return [f"tuning is {abs(tuning_cents):.0f} cents {side}, near half a semitone: the key may be {other} "
            f"(every key and chord name a semitone {way})"]


def key_warnings(key: dict, *, silent: bool = False) -> list[str]:
    """What a reader of the key should know: no key, a low confidence, a near tie."""
    if silent:
        return []
    if key.get("index") is None:
        note = key.get("note")
        return ["no clear key" + (f": {note}" if note and note != NO_KEY_NOTE else "")]
    out = []
    if key["confidence"] < UNCERTAIN_KEY_CONFIDENCE:
        # three decimals where two would read as the threshold itself (lincity.ogg's 0.347 had read "key uncertain
        # (confidence 0.35)" beside a threshold of 0.35)
        shown = f"{key['confidence']:.2f}" if round(key["confidence"], 2) < UNCERTAIN_KEY_CONFIDENCE else \
            f"{key['confidence']:.3f}"
        out.append(f"key uncertain (confidence {shown})")
    opening = key.get("opening")
    if opening and opening["label"] != key["label"]:
        sure = f"confidence {opening['confidence']:.2f}" if "confidence" in opening else \
            f"probability {opening['score']:.2f}"
        from .key_timeline import opening_disagreement

        clause = opening_disagreement(key)
        out.append(f"the opening reads as {opening['label']} ({sure}), the whole track as "
                   f"{key['label']}: the music may begin away from its key, or modulate"
                   + (f"; {clause}" if clause else ""))
    if key.get("_home") and key.get("candidates"):
        top = key["candidates"][0]  # the model's most probable key: the home key's dominant key
        out.append(f"the whole track reads most like {top['label']} (probability {top['score']:.2f} against "
                   f"{key['score']:.2f}), the dominant key of {key['label']}, whose tonic chord opens the music: "
                   f"a piece that moves to its dominant key, reported in the key it opens in")
    best = key.get("score")
    # after the timeline overruled the whole-track reading, the runner-up is that reading, named by
    # reconcile_with_changes' warning: its score against the new key's would only repeat it, inverted
    # the home key's runner-up is named by the warning above
    for c in key.get("candidates", [])[:0 if key.get("_from_timeline") or key.get("_home") else 1]:
        if best is None or c.get("score") is None:
            continue
        close = c["score"] >= CLOSE_RATIO * best if key.get("_probabilities") else best - c["score"] < CLOSE_SCORE
        if close:  # both on one scale, named (a stranger read "0.31 against 0.61" beside "confidence 0.44")
            out.append(f"key may also be {c['label']} ({'probability' if key.get('_probabilities') else 'score'} "
                       f"{c['score']:.2f} against {best:.2f} for {key.get('label', 'the key')})")
    return out
