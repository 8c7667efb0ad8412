"""Stretches where the voice activity detector heard a voice and Whisper wrote no word.

tiny.en writes nothing at all for some speech it does not know: of espeak-ng's English then French reading of one
story (63 s, then 54 s), the transcript ended at 62.5 s, the French part gone with no warning (its French half alone
is told "no words were heard"). The same happens where Whisper skips unclear speech. A voice the detector (Silero
VAD, faster-whisper's own, already run on every window for the segments' `speech_share`) hears for UNHEARD_SECONDS or
more outside every segment is said, with where it is.
"""

from __future__ import annotations

UNHEARD_SECONDS = 10.0  # s of voice outside every segment from which the transcript says so
PIECE_SECONDS = 3.0  # s: a shorter piece of voice between segments is a pause or a breath at a segment's edge
LISTED = 3  # stretches named in the warning (the longest), the rest counted
UNHEARD = "a voice was heard for"  # how unheard_warning's warning begins (the lyrics and audio analyses pass it on)


def unheard_voice(voiced: list[tuple[float, float]], segments: list[dict]) -> list[tuple[float, float]]:
    """The parts of the voiced spans (recording time, in order) that no segment with words covers, of PIECE_SECONDS
    or more."""
    covered = sorted((float(s["start"]), float(s["end"])) for s in segments if s.get("text"))
    out: list[tuple[float, float]] = []
    for a, b in voiced:
        pieces = [(a, b)]
        for c, d in covered:
            pieces = [p for x, y in pieces for p in ((x, min(y, c)), (max(x, d), y)) if p[1] - p[0] > 1e-3]
        out += [(x, y) for x, y in pieces if y - x >= PIECE_SECONDS]
    return out


def unheard_warning(voiced: list[tuple[float, float]], segments: list[dict], *, english_only: bool,
                    model_name: str) -> list[str]:
    """The warning, where UNHEARD_SECONDS or more of voice got no word."""
    gaps = unheard_voice(voiced, segments)
    total = sum(b - a for a, b in gaps)
    if total < UNHEARD_SECONDS:
        return []
    longest = sorted(sorted(gaps, key=lambda g: g[0] - g[1])[:LISTED])
    where = ", ".join(f"{_clock(a)}-{_clock(b)}" for a, b in longest)
    more = f" and {len(gaps) - LISTED} more" if len(gaps) > LISTED else ""
    why = (f"speech in a language this English-only Whisper model ({model_name}) does not know (it writes nothing "
           "for some), or unclear speech" if english_only else f"speech this Whisper model ({model_name}) cannot "
           "make out")
    return [f"{UNHEARD} {total:.1f} s where the transcript has no words ({where}{more}): {why}; a "
            "multilingual or larger model may hear it (/process/whisper's \"model\", e.g. \"small\", where "
            "MODELS_DIR holds it)"]


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
