"""An analysis of a recording the session's music analysis measured as speech.

The analyze task asks for "the music's mood, instrumentation, structure and production": of a 30-minute
audiobook whose pitch result said "speech, not music" (95 % of it a speaking voice), SmolLM2 wrote "The music's
mood is a mix of electronic and classical music" with no word of doubt. Where the session's pitch result finds
speech in SPEECH_SHARE_MIN of the recording or more, a model that cannot hear is asked to describe the speaking
instead (the voice, what is talked about, the recording), and an answer of any model that still talks of music
is named in the result's warnings (a music word after a negation in its clause is no claim).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SPEECH_SHARE_MIN = 0.5  # of the recording found to be speech without music (pitch_<stem>.json's speech_share)

SPEECH_SYSTEM = ("You are an audio analyst. Ground every statement in the measured features and the transcript "
                 "you are given, and do not invent details.")

# words of a music description; one after a negation ("no music", "without instruments") is no claim
MUSIC_WORDS = re.compile(r"\b(music|musical|songs?|melod(?:y|ies|ic)|instruments?|instrumentation|genre|chords?)\b",
                         re.I)
NEGATION = re.compile(r"\b(no|not|without|neither|nor|never|none)\b|n't\b", re.I)
CLAUSE_END = re.compile(r"[.;:!?\n]|\bbut\b", re.I)  # a negation holds to the end of its clause


def speech_share(pitch: Mapping[str, Any] | None) -> float | None:
    """The share of the recording the music analysis found to be speech, where it is SPEECH_SHARE_MIN or more."""
    share = pitch.get("speech_share") if isinstance(pitch, Mapping) else None
    if isinstance(share, int | float) and not isinstance(share, bool) and share >= SPEECH_SHARE_MIN:
        return float(share)
    return None


def content(pitch: Mapping[str, Any] | None) -> str | None:
    """What the session's music analysis measured the recording as: "speech" (speech_share above), "music" (a pitch
    result that is not speech) or None (no pitch result, or one without a speech_share: not measured). The lyrics and
    compare jobs and the library say it as `content`, beside the pitch result's own `speech_share` (measured_share)."""
    if measured_share(pitch) is None:
        return None
    return "speech" if speech_share(pitch) is not None else "music"


def measured_share(pitch: Mapping[str, Any] | None) -> float | None:
    """The pitch result's speech_share as it is (0 for music), None without one."""
    share = pitch.get("speech_share") if isinstance(pitch, Mapping) else None
    return float(share) if isinstance(share, int | float) and not isinstance(share, bool) else None


def speech_instruction(share: float) -> str:
    """The analyze instruction of a text-only pass over a recording measured as speech. Worded as a task and with
    no music word: SmolLM2 copied a longer instruction back as its answer ("This service's music analysis measured
    ... Do not describe music, instruments, a song or a genre."), music words and all."""
    return (f"Task: describe this spoken recording ({share:.0%} of it is a speaking voice, as measured): the voices "
            "and how they speak, what is talked about (from the transcript), and the recording quality, citing the "
            "measured features.")


def music_claims(answer: str) -> list[str]:
    """The music words of `answer` that no negation earlier in their clause takes back ("no chords, beat or melody",
    "not music, instruments or a song"), in order."""
    found = []
    for match in MUSIC_WORDS.finditer(answer):
        clause = CLAUSE_END.split(answer[:match.start()])[-1]
        if not NEGATION.search(clause):
            found.append(match.group(0).lower())
    return found


def music_talk_warning(answer: str, share: float | None) -> list[str]:
    """A warning where a recording measured as speech is described as music (the answer is never edited)."""
    claims = music_claims(answer) if share is not None else []
    if not claims:
        return []
    words = ", ".join(dict.fromkeys(f'"{w}"' for w in claims))
    return [f"the answer describes music ({words}), but the music analysis measured the recording as speech "
            f"({share:.0%} of it a speaking voice, no chords, beat or melody): check it against the measurements"]
