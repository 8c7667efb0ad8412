"""A model's answer stuck in a loop: small models (SmolLM2-135M) given a long task often repeat one word or phrase
to the end of max_new_tokens ("lazy lazy lazy...", "I love you I love you..."), or a phrase with variations ("The
production of the production of the song. The production of the vocals is the production of the mix..."): the
registry's answer_no_repeat_ngram forbids repeating a whole n-gram, so a looping model varies a word and goes on."""

from __future__ import annotations

import re
from collections import Counter

# an answer of at least LOOP_MIN_WORDS words, one of which makes LOOP_SHARE of them, is a model stuck in a loop;
# in prose the commonest word ("the") makes ~5-7 %
LOOP_MIN_WORDS = 40
LOOP_SHARE = 0.3
# ... or one whose 3-word phrases repeat earlier ones: LOOP_PHRASE_SHARE of them or more. Of the 60 paragraphs of
# prose in README.md and docs/ (60-400 words) none repeats more than 20 % (most under 6 %; a code block of curl lines
# does: 42 %); a 126-word "The production of the production of the song ..." loop repeats 36 %. A stranger's
# 512-token answer of that kind had no word at 30 % and was not flagged
LOOP_PHRASE_WORDS = 3
LOOP_PHRASE_SHARE = 0.3


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


def looping_phrase(answer: str) -> tuple[str, int, float] | None:
    """(its commonest 3-word phrase, how often it comes, the share of its 3-word phrases that repeat an earlier one)
    when most of a long answer repeats itself with variations, else None."""
    words = answer_words(answer)
    if len(words) < LOOP_MIN_WORDS:
        return None
    phrases = Counter(tuple(words[i:i + LOOP_PHRASE_WORDS]) for i in range(len(words) - LOOP_PHRASE_WORDS + 1))
    total = sum(phrases.values())
    repeated = 1 - len(phrases) / total
    if repeated < LOOP_PHRASE_SHARE:
        return None
    phrase, count = phrases.most_common(1)[0]
    return " ".join(phrase), count, repeated


def loop_warning(answer: str) -> list[str]:
    """The warning for an answer stuck in a loop, or none."""
    loop = looping_word(answer)
    if loop is not None:
        return [f"the answer repeats itself ({loop[0]!r} is {loop[1]:.0%} of its words): the model is stuck in a "
                "loop; a larger model may answer"]
    phrase = looping_phrase(answer)
    if phrase is not None:
        return [f"the answer repeats itself ({phrase[0]!r} comes {phrase[1]} times; {phrase[2]:.0%} of its 3-word "
                "phrases repeat earlier ones): the model is stuck in a loop; a larger model may answer"]
    return []
