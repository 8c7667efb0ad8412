"""Lines an analysis quotes that the transcript does not hold.

The lyrics prompt asks the model to quote only lines of the transcript, but small models write lines of their
own in quotation marks ("Notable lines: "I will always love you" [0:12]" of a song that never says it) and a
reader cannot tell them from the song's. Every quotation of at least MIN_QUOTED_WORDS words is looked for in
the transcript: word by word, case and punctuation aside, allowing small slips (a word dropped, changed or
added: a model's "going to" for Whisper's "gonna") up to a share of HEARD_SHARE of the quote's words in one
stretch of the transcript. What is not found is named in a warning.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from .prompts import WORD_RE

MIN_QUOTED_WORDS = 3  # "love", "oh yeah" are words, not lines: too short to tell a quote from emphasis
HEARD_SHARE = 0.75  # of a quote's words matched, in order, within one stretch of the transcript
# double quotation marks of the common scripts; single ones are apostrophes too often to pair
_QUOTE = re.compile(r'["“”„«»「」『』]([^"“”„«»「」『』\n]{1,300})["“”„«»「」『』]')
MAX_WARNED = 3  # quotes named in the warning (the rest counted)


# English contractions and sung forms, spelled out, so "can't" and "can not", "gonna" and "going to" are one quote
_SPELLED = {"can't": "can not", "cannot": "can not", "won't": "will not", "ain't": "is not", "gonna": "going to",
            "wanna": "want to", "gotta": "got to", "'cause": "because", "cause": "because", "'til": "until",
            "till": "until"}
_ENDINGS = (("n't", " not"), ("'m", " am"), ("'re", " are"), ("'ll", " will"), ("'ve", " have"), ("'d", " would"))


def words_of(text: str) -> list[str]:
    out: list[str] = []
    for word in WORD_RE.findall(text):
        word = word.lower().replace("’", "'")
        spelled = _SPELLED.get(word)
        if spelled is None:
            spelled = next((word[:-len(end)] + full for end, full in _ENDINGS if word.endswith(end)), word)
        out += spelled.split()
    return out


def quotations(answer: str) -> list[str]:
    """Passages of `answer` in double quotation marks with at least MIN_QUOTED_WORDS words."""
    return [m.group(1).strip() for m in _QUOTE.finditer(answer) if len(words_of(m.group(1))) >= MIN_QUOTED_WORDS]


def heard_share(quote: Sequence[str], heard: Sequence[str]) -> float:
    """The largest share of `quote`'s words matched in order within one stretch of `heard` as long as the quote
    (plus a word either side for slips)."""
    if not quote:
        return 1.0
    if not heard:  # nothing was heard (an instrumental's empty transcript): no word of the quote is in it
        return 0.0
    first = set(quote)
    span = len(quote) + 2
    best = 0
    for start in range(max(len(heard) - span + 1, 1)):
        if heard[start] not in first and start + span < len(heard):  # a stretch worth checking holds a quoted word
            continue
        matcher = SequenceMatcher(None, quote, heard[start:start + span], autojunk=False)
        best = max(best, sum(block.size for block in matcher.get_matching_blocks()))
        if best == len(quote):
            break
    return best / len(quote)


def unheard_quotes(answer: str, lines: Sequence[str]) -> list[str]:
    """The quotations of `answer` that the transcript `lines` does not hold (in the order quoted, once each)."""
    heard = words_of(" ".join(lines))
    out: list[str] = []
    for quote in quotations(answer):
        if quote not in out and heard_share(words_of(quote), heard) < HEARD_SHARE:
            out.append(quote)
    return out


def unheard_warning(quotes: Sequence[str]) -> str | None:
    if not quotes:
        return None
    named = "; ".join(f'"{q[:80]}{"…" if len(q) > 80 else ""}"' for q in quotes[:MAX_WARNED])
    more = f" and {len(quotes) - MAX_WARNED} more" if len(quotes) > MAX_WARNED else ""
    return f"the analysis quotes words the transcript does not hold (made up, or misremembered): {named}{more}"
