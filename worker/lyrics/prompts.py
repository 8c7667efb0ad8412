"""The lyrics prompt and its answer: timed lines in, labelled sections out."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from worker.llm.repetition import answer_words, loop_warning

MAX_LINES = 200  # lines of a transcript quoted (a long talk is cut, and the answer says so)
# Each section and what the prompt asks of it (the prompt's own words, also what an echo of it is recognised by)
SECTION_ASKS = {
    "Themes": "what the song is about.",
    "Mood": "the feeling of the words.",
    "Narrative": "who speaks to whom, and what happens, if anything.",
    "Notable lines": "two or three lines quoted with their [m:ss] times, and why they stand out.",
}
# the same sections of a recording the music analysis measured as speech (worker/audio_llm/speech.py): an
# audiobook's transcript had been sent as "The lyrics of a song" and answered as one ("what the song is about")
SPEECH_ASKS = {
    "Themes": "what is talked about.",
    "Mood": "the tone of the speaking.",
    "Narrative": "who speaks to whom, and what happens, if anything.",
    "Notable lines": "two or three lines quoted with their [m:ss] times, and why they stand out.",
}
SECTIONS = tuple(SECTION_ASKS)
WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")  # a word: letters or digits, with inner apostrophes or hyphens
ECHO_SHARE = 0.8  # share of a section's words found in runs of an ask's words from which it is a copy
SYSTEM = ("You analyse song lyrics. Quote only lines that are in the transcript, with their times; when the "
          "transcript is too short or unclear to tell something, say so instead of guessing.")
SPEECH_SYSTEM = ("You analyse the transcript of a spoken recording, not a song. Quote only lines that are in the "
                 "transcript, with their times; when the transcript is too short or unclear to tell something, say "
                 "so instead of guessing.")
_HEADING = re.compile(r"^\s*\**\s*(" + "|".join(SECTIONS) + r")\s*\**\s*:\s*", re.I | re.M)


def clock(seconds: float | None) -> str:
    s = max(0, int(seconds or 0))
    return f"{s // 60}:{s % 60:02d}"


def timed_lines(transcript: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The transcript's segments as lines {start, end, text}; lines without a word dropped (Whisper's "." for an
    instrumental had gone to the model as a line of lyrics, and it wrote about it)."""
    out = []
    for seg in transcript.get("segments") or []:
        text = str(seg.get("text", "")).strip()
        if word_count(text):
            out.append({"start": float(seg.get("start") or 0.0), "end": float(seg.get("end") or 0.0), "text": text})
    if not out and word_count(str(transcript.get("text", ""))):
        out.append({"start": 0.0, "end": 0.0, "text": str(transcript["text"]).strip()})
    return out


def word_count(text: str) -> int:
    """Words in `text`: runs of letters or digits, in any script ("the . ." is one word, "." none)."""
    return len(WORD_RE.findall(text))


def lyrics_prompt(lines: Sequence[Mapping[str, Any]], *, language: str | None, music_text: str,
                  sees_image: bool, speech_share: float | None = None) -> tuple[str, bool]:
    """(the user message, whether the lines were cut). `speech_share`: of a recording the music analysis measured as
    speech (worker/audio_llm/speech.py), whose transcript is asked about as spoken words, not as a song's lyrics
    (`music_text` is then left out: its "no key, no chords" only gave a small model music words to copy)."""
    shown = lines[:MAX_LINES]
    quoted = "\n".join(f"[{clock(line['start'])}] {line['text']}" for line in shown)
    heard = f"language: {language or 'unknown'}; recognition errors are possible"
    cut = " - cut short" if len(lines) > len(shown) else ""
    if speech_share is not None:
        parts = [f"The transcript of a spoken recording ({speech_share:.0%} of it a speaking voice, as measured), "
                 f"transcribed by Whisper ({heard}){cut}:\n{quoted}"]
    else:
        parts = [f"The lyrics of a song, transcribed by Whisper ({heard}){cut}:\n{quoted}"]
        if music_text:
            parts.append(music_text)
    if sees_image:
        parts.append("The image is the song's album art: use it only where it bears on the lyrics." if speech_share
                     is None else "The image is the recording's cover art: use it only where it bears on the words.")
    asks = SECTION_ASKS if speech_share is None else SPEECH_ASKS
    parts.append("Answer in these sections, each starting on its own line with its name and a colon:\n"
                 + "\n".join(f"{name}: {ask}" for name, ask in asks.items()))
    return "\n\n".join(parts), len(lines) > len(shown)


def is_echo(text: str) -> bool:
    """Whether `text` only repeats what the prompt asked of some section: a small model given the format sometimes
    copies it back ("Themes: what the song is about.") instead of answering."""
    from difflib import SequenceMatcher

    # what an echo copies: any section's ask, with or without its name (a stranger's notable_lines held another
    # section's instructions), word for word or nearly ("with their times" for "with their [m:ss] times")
    asked = [*SECTION_ASKS.items(), *SPEECH_ASKS.items()]  # either prompt's
    copies = [answer_words(ask) for _, ask in asked]
    copies += [answer_words(f"{name} {ask}") for name, ask in asked]
    said = answer_words(text)
    if len(said) < 3:
        return False
    copied: set[int] = set()  # positions in `said` inside a run of some copy's words
    for c in copies:
        for block in SequenceMatcher(None, said, c, autojunk=False).get_matching_blocks():
            if block.size >= 2:  # a run of words, not one common word
                copied.update(range(block.a, block.a + block.size))
    return len(copied) >= ECHO_SHARE * len(said)


def echoed_sections(sections: Mapping[str, str]) -> list[str]:
    """The sections (split_sections' keys) whose text only repeats what the prompt asked of them."""
    return [key for key in (name.lower().replace(" ", "_") for name in SECTION_ASKS) if is_echo(sections.get(key, ""))]


def without_leading_echo(text: str) -> tuple[str, bool]:
    """`text` without the lines at its start that repeat the prompt's instructions, and whether there were any: a
    stranger's notable_lines began with its own ask, then went on to answer something else."""
    lines = text.splitlines()
    start = 0
    while start < len(lines) and (not lines[start].strip() or is_echo(lines[start])):
        start += 1
    dropped = any(line.strip() for line in lines[:start])
    return ("\n".join(lines[start:]).strip(), True) if dropped else (text, False)


def split_sections(answer: str) -> dict[str, str]:
    """{"themes", "mood", "narrative", "notable_lines"} from the model's answer; a section it did not write is
    "" (the whole answer is kept beside them, so nothing is lost when a small model ignores the format)."""
    out = {name.lower().replace(" ", "_"): "" for name in SECTIONS}
    marks = list(_HEADING.finditer(answer))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(answer)
        key = mark.group(1).lower().replace(" ", "_")
        out[key] = answer[mark.end():end].strip()
    return out


def read_answer(answer: str, *, heard_words: bool) -> tuple[dict[str, str], list[str]]:
    """The model's answer as split_sections' sections, and the warnings it calls for: the prompt's instructions
    copied back (those sections left empty), no section at all, a loop."""
    analysis = split_sections(answer)
    warnings = []
    began = []
    for key, text in analysis.items():
        analysis[key], dropped = without_leading_echo(text)
        if dropped and analysis[key]:
            began.append(key)
        elif dropped:  # nothing but the instructions: an echo like any other
            analysis[key] = text
    echoed = echoed_sections(analysis)
    for key in echoed:  # not an answer: left empty, the model's whole text stays in analysis_text
        analysis[key] = ""
    began = [key for key in began if key not in echoed]
    if echoed:
        warnings.append(f"the model repeated the prompt's instructions instead of answering ({', '.join(echoed)}); "
                        "a larger model may answer")
    if began:
        warnings.append(f"the model began {', '.join(began)} by repeating the prompt's instructions (removed); "
                        "what follows may not answer what was asked")
    # every section empty and none of them an echo (said above: a stranger got both, beside all four headings)
    elif heard_words and answer.strip() and not echoed and not any(analysis.values()):
        warnings.append("the answer has none of the sections asked for (themes, mood, narrative, notable lines); "
                        "its whole text is in analysis_text")
    return analysis, warnings + loop_warning(answer)
