"""The warning a transcript gets when Whisper decoded a stretch too short to align words in (alignment.py says
why). Apart from the model's module: the pipeline, which the API and every worker import, needs only this, and the
model's module imports faster-whisper, CTranslate2 and PyAV (~1 s of each process' start)."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w")  # a letter or digit: the text holds a word


def words_missing_warning(segments: list[dict]) -> list[str]:
    """A warning when word times were asked for and segments with words in their text got none (see the module).
    A segment of punctuation alone (Whisper's "." for a 10 ms tone) has no word to time."""
    worded = [s for s in segments if _WORD.search(s["text"])]
    bare = [s for s in worded if not s["words"]]
    if not bare:
        return []
    return [f"{len(bare)} of {len(worded)} segments have no word times: Whisper decoded them from a stretch too "
            "short to align words in (under 20 ms)"]
