"""Explicit words in a transcript, by a word list: an honest, checkable flag (a 135 M model's opinion on it
is neither). English only; the list is short and errs towards the unmistakable."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# whole words (and their -s/-ing/-ed/-er forms), lower case
EXPLICIT_WORDS = frozenset({
    "fuck", "fucking", "fucked", "fucker", "motherfucker", "shit", "shitty", "bullshit", "bitch", "bitches",
    "asshole", "cunt", "dick", "pussy", "cock", "whore", "slut", "nigga", "nigger", "faggot", "bastard",
})
_WORD = re.compile(r"[a-z']+")


def explicit_words(lines: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """[{word, time, line}] for every listed word, in order (time: the line's start, seconds)."""
    found = []
    for line in lines:
        for word in _WORD.findall(str(line.get("text", "")).lower()):
            if word.strip("'") in EXPLICIT_WORDS:
                found.append({"word": word.strip("'"), "time": line.get("start"), "line": line.get("text")})
    return found
