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
# the pitch result's warning of a file whose RMS is below SILENCE_RMS (worker/music/pipeline.py): the library lists
# such a track as content "silence", where it had been "music" (not speech) to a user filtering for music
SILENCE_WARNING = "silence: nothing to analyse"

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


def silent(pitch: Mapping[str, Any] | None) -> bool | None:
    """Whether the music analysis found the recording silent (its SILENCE_WARNING); None without a pitch result."""
    if not isinstance(pitch, Mapping):
        return None
    warnings = pitch.get("warnings")
    return isinstance(warnings, list) and SILENCE_WARNING in warnings


def measured_share(pitch: Mapping[str, Any] | None) -> float | None:
    """The pitch result's speech_share as it is (0 for music), None without one."""
    share = pitch.get("speech_share") if isinstance(pitch, Mapping) else None
    return float(share) if isinstance(share, int | float) and not isinstance(share, bool) else None


NO_PITCH = "no pitch analysis of it gave a speech share"
NO_PITCH_SHARE = f"({NO_PITCH})"  # said of a share the job measured itself, of the whole file
BEATLESS = "a speaking voice without a steady beat"  # what the job's own measure finds (no chords or melody)


def measured_part(speech: Mapping[str, Any] | None) -> float | None:
    """The seconds the job measured of a file longer than them (worker/music/speech_share.py measures its first
    SPEECH_MEASURE_SECONDS: `speech_measured_whole` false); None for a file measured whole or a pitch result's share."""
    if not isinstance(speech, Mapping) or speech.get("speech_measured_whole") is not False:
        return None
    seconds = speech.get("speech_measured_seconds")
    return float(seconds) if isinstance(seconds, int | float) and not isinstance(seconds, bool) else None


def span_words(seconds: float) -> str:
    """600 -> "10 minutes", 90 -> "1 min 30 s", 4 -> "4 s"."""
    minutes, rest = divmod(round(seconds), 60)
    if minutes and not rest:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{minutes} min {rest} s" if minutes else f"{round(seconds, 1):g} s"


def job_measured(first_seconds: float | None = None) -> str:
    """The note after a share the job measured: "(no pitch analysis of it gave a speech share)", or for a file
    longer than what it measured "(measured on its first 10 minutes; no pitch analysis of it gave a speech share)":
    a 20-minute talk's share, of its first 10 minutes, had read as the whole file's."""
    return f"(measured on its first {span_words(first_seconds)}; {NO_PITCH})" if first_seconds else NO_PITCH_SHARE


def speech_origin(speech: Mapping[str, Any] | None) -> dict[str, Any]:
    """Where a share came from, as the lyrics, compare and audio-LLM results say it beside `speech_share`:
    {"speech_source": "pitch" (the session's pitch result) | "measured" (the job measured it itself, having no
    pitch result with a share: worker/music/speech_share.py, whose answer alone holds `speech_measured_seconds`) |
    None (no share), "speech_measured_seconds": of how much of the file the job measured (None unless measured)}.
    A share the job measured had been reported as "the music analysis measured this recording as speech"."""
    if measured_share(speech) is None or speech is None:
        return {"speech_source": None, "speech_measured_seconds": None}
    seconds = speech.get("speech_measured_seconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return {"speech_source": "measured", "speech_measured_seconds": float(seconds)}
    return {"speech_source": "pitch", "speech_measured_seconds": None}


def measured_as_speech(share: float, *, source: str | None, what: str = "a speaking voice",
                       first_seconds: float | None = None) -> str:
    """Who measured the recording as speech, and how much: "the music analysis measured this recording as speech
    (93% of it a speaking voice)", as it was always said of a pitch result's share; where the job measured it
    itself (`source` "measured"), "this job measured the recording as speech (...) (no pitch analysis of it gave
    a speech share)", and of a file longer than it measured (`first_seconds`, measured_part) "(measured on its
    first 10 minutes; no pitch analysis ...)"."""
    if source == "measured":
        return f"this job measured the recording as speech ({share:.0%} of it {what}) {job_measured(first_seconds)}"
    return f"the music analysis measured this recording as speech ({share:.0%} of it {what})"


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


def music_talk_warning(answer: str, share: float | None, *, source: str | None = "pitch",
                       first_seconds: float | None = None) -> list[str]:
    """A warning where a recording measured as speech is described as music (the answer is never edited).
    `source`: speech_origin's; "measured" (by the job, which measures no chords or melody) is said so, and
    `first_seconds` where that was the start of a longer file (measured_part)."""
    claims = music_claims(answer) if share is not None else []
    if not claims or share is None:
        return []
    words = ", ".join(dict.fromkeys(f'"{w}"' for w in claims))
    if source == "measured":  # (it measures no chords or melody)
        return [f"the answer describes music ({words}), but "
                + measured_as_speech(share, source=source, what=BEATLESS, first_seconds=first_seconds)
                + ": check it against the measurements"]
    return [f"the answer describes music ({words}), but the music analysis measured the recording as speech "
            f"({share:.0%} of it a speaking voice, no chords, beat or melody): check it against the measurements"]



def music_talk_of_tracks(answer: str, tracks: list[tuple[str, float, str | None, float | None]]) -> list[str]:
    """music_talk_warning of a comparison of recordings all measured as speech, `tracks` (file, share, source,
    first_seconds), each said with who measured it where the job measured any: "... but the tracks were measured as
    speech: talk.wav by this job (80% of it a speaking voice without a steady beat) (no pitch analysis of it gave a
    speech share); prompt.flac by its pitch analysis (93% of it a speaking voice, no chords, beat or melody): ...".
    It had said "this job measured the recording as speech (the least share) ..." of them all, a pitch result's
    share among them. Where every share is a pitch result's, music_talk_warning's words of the least one."""
    if not tracks:
        return []
    if all(source != "measured" for _, _, source, _ in tracks):
        return music_talk_warning(answer, min(share for _, share, _, _ in tracks), source="pitch")
    claims = music_claims(answer)
    if not claims:
        return []
    words = ", ".join(dict.fromkeys(f'"{w}"' for w in claims))
    said = [f"{name} by this job ({share:.0%} of it {BEATLESS}) {job_measured(first)}" if source == "measured" else
            f"{name} by its pitch analysis ({share:.0%} of it a speaking voice, no chords, beat or melody)"
            for name, share, source, first in tracks]
    return [f"the answer describes music ({words}), but the tracks were measured as speech: {'; '.join(said)}: "
            "check it against the measurements"]
