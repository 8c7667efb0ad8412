"""A model's answer stuck in a loop: small models (SmolLM2-135M) given a long task often repeat one word or phrase
to the end of max_new_tokens ("lazy lazy lazy...", "I love you I love you...")."""

from __future__ import annotations

import re
from collections import Counter

# an answer of at least LOOP_MIN_WORDS words, one of which makes LOOP_SHARE of them, is a model stuck in a loop;
# in prose the commonest word ("the") makes ~5-7 %
LOOP_MIN_WORDS = 40
LOOP_SHARE = 0.3


def answer_words(text: str) -> list[str]:
    """The lowercase words of a model's answer (letters and digits)."""
    return re.findall(r"[a-z0-9]+", text.lower())


def looping_word(answer: str) -> tuple[str, float] | None:
    """(the word, its share of the words) when the answer is one word or phrase over and over, else None."""
    words = answer_words(answer)
    if len(words) < LOOP_MIN_WORDS:
        return None
    word, count = Counter(words).most_common(1)[0]
    return (word, count / len(words)) if count >= LOOP_SHARE * len(words) else None


def loop_warning(answer: str) -> list[str]:
    """The warning for an answer stuck in a loop, or none."""
    loop = looping_word(answer)
    if loop is None:
        return []
    return [f"the answer repeats itself ({loop[0]!r} is {loop[1]:.0%} of its words): the model is stuck in a loop; "
            "a larger model may answer"]
