"""What speech found in a track takes out of its pitch result (worker/music/speech.py finds it): its chords are
"N", its notes unlisted, a speech track gets no key or tuning, and the warning that says so."""

from __future__ import annotations

from .options import PitchOptions
from .speech import Speech

# a speech track (speech over pipeline.SPEECH_WHOLE_SHARE of it, or a clip judged speech as a whole) gets no key: a
# key read from a spoken word is a guess at the pitches it glides through (Asterisk's 0.9 s "tomorrow" read "A# major",
# confidence 0.08, and a tuning of +12 cents; espeak-ng's English letters with pauses, all of it speech, "G minor" and
# +50 cents; the French and German ones "nothing pitched sounds (percussion or noise)")
SPEECH_KEY_NOTE = "speech: a speaking voice keeps to no scale, so there is no key to read"


def spoken_key() -> dict:
    """The key of a speech track: none, with SPEECH_KEY_NOTE (key.estimate_key's shape)."""
    return {"tonic": None, "mode": None, "label": "no key", "index": None, "confidence": 0.0, "candidates": [],
            "changes": [], "note": SPEECH_KEY_NOTE}


def notes_outside(notes: list[dict], spans: list[tuple[float, float]]) -> list[dict]:
    """`notes` ({onset, offset, ...} s) without those lying mostly inside `spans`: a speaking voice glides, so the
    notes read from it are guesses at its pitches, as a key read from it is (spoken clips had listed notes)."""
    def inside(n: dict) -> float:
        return sum(max(0.0, min(n["offset"], b) - max(n["onset"], a)) for a, b in spans)
    return [n for n in notes if inside(n) <= 0.5 * max(n["offset"] - n["onset"], 1e-9)]


def blank_chords(chords: list[dict], segments: list[tuple[float, float]]) -> list[dict]:
    """`chords` (start-sorted {start, end, label}) with every stretch in `segments` labelled "N": chords that
    straddle a segment's edge are cut there, neighbouring "N"s are merged."""
    out: list[dict] = []

    def put(start: float, end: float, label: str) -> None:
        # nothing that rounds to no length (the output's ms): a track's duration, unrounded, ends the speech a
        # fraction of a ms before the last chord's rounded end, which had left a lone word a chord of length 0
        if round(end, 3) - round(start, 3) <= 0:
            return
        if out and out[-1]["label"] == label == "N" and abs(out[-1]["end"] - start) < 1e-6:
            out[-1]["end"] = end
        else:
            out.append({"start": start, "end": end, "label": label})

    for ch in chords:
        start, end = ch["start"], ch["end"]
        for a, b in segments:
            if b <= start or a >= end:
                continue
            put(start, max(start, a), ch["label"])
            put(max(start, a), min(end, b), "N")
            start = min(end, b)
        put(start, end, ch["label"])
    return [{**c, "start": round(c["start"], 3), "end": round(c["end"], 3)} for c in out]


def speech_warning(speech: Speech, options: PitchOptions, *, duration: float, all_speech: bool) -> str:
    """The warning that names the speech found and what it is not given."""
    beats = all_speech and (options.wants("tempo") or options.wants("beats"))
    parts = [w for w, on in (("chords", options.wants("chords")), ("beats", beats), ("melody notes",
                                                                                     options.wants("melody"))) if on]
    withheld = ", ".join(parts[:-1]) + (" or " if len(parts) > 1 else "") + (parts[-1] if parts else "music")
    if all_speech:
        share = speech.share(duration)
        most = "" if share >= 0.995 else f" ({share:.0%} of the track sounds like speech: all of it is taken as speech)"
        return f"speech, not music: no {withheld} are given for {duration:.1f} s of speech{most}"
    where = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in speech.segments)
    return f"speech, not music: no {withheld} are given for {speech.seconds:.1f} s of speech ({where})"
