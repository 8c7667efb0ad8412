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
# ... or any LOOP_WINDOW words in a row of a longer answer that do either (a word, numbers aside, at LOOP_SHARE; 3-word
# phrases repeating at LOOP_PHRASE_SHARE): a model that writes sense first and then loops to max_new_tokens dilutes
# its loop in the whole. A stranger's SmolLM2-135M comparison (temperature 0, 700 tokens) began with 60 words of
# facts, then 55 lines of "- genre: E5", "- genre: F", ... and "the same tempo, genre and style ... the same genre":
# no word at 30 % (genre 19 %), 22 % of its 3-word phrases repeated, and no warning. Over every 60 words in a row of
# README.md and docs/ (181 paragraphs of 60 words or more) the commonest word other than a number makes 20 % at
# most and the repeated 3-word phrases 21 % at most; that comparison's loop makes 52 % "genre"
LOOP_WINDOW = 60
LOOP_WINDOW_STEP = 5


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


def looping_stretch(answer: str) -> tuple[str, float, str] | None:
    """(the word or 3-word phrase, its share, "word" | "phrase") of the LOOP_WINDOW words in a row of a longer answer
    that are most one word over and over (LOOP_SHARE or more), else most repeat their own 3-word phrases
    (LOOP_PHRASE_SHARE or more of them: the share of those that repeat); None where no such words are."""
    words = answer_words(answer)
    if len(words) <= LOOP_WINDOW:
        return None  # the whole answer's checks are the stretch's
    starts = list(range(0, len(words) - LOOP_WINDOW + 1, LOOP_WINDOW_STEP))
    if starts[-1] != len(words) - LOOP_WINDOW:
        starts.append(len(words) - LOOP_WINDOW)  # the end, where a loop runs to max_new_tokens
    word: tuple[str, float] = ("", 0.0)
    phrase: tuple[str, float] = ("", 0.0)
    for start in starts:
        stretch = words[start:start + LOOP_WINDOW]
        named = Counter(w for w in stretch if not w.isdigit()).most_common(1)  # a table of numbers is no loop
        if named and named[0][1] / LOOP_WINDOW > word[1]:
            word = (named[0][0], named[0][1] / LOOP_WINDOW)
        phrases = Counter(tuple(stretch[i:i + LOOP_PHRASE_WORDS])
                          for i in range(LOOP_WINDOW - LOOP_PHRASE_WORDS + 1))
        repeated = 1 - len(phrases) / (LOOP_WINDOW - LOOP_PHRASE_WORDS + 1)
        if repeated > phrase[1]:
            phrase = (" ".join(phrases.most_common(1)[0][0]), repeated)
    if word[1] >= LOOP_SHARE:
        return word[0], word[1], "word"
    return (phrase[0], phrase[1], "phrase") if phrase[1] >= LOOP_PHRASE_SHARE else None


def loop_warning(answer: str) -> list[str]:
    """The warning for an answer stuck in a loop (the whole of it, or LOOP_WINDOW words in a row), or none."""
    loop = looping_word(answer)
    if loop is not None:
        return [f"the answer repeats itself ({loop[0]!r} is {loop[1]:.0%} of its words): the model is stuck in a "
                "loop; a larger model may answer"]
    phrase = looping_phrase(answer)
    if phrase is not None:
        return [f"the answer repeats itself ({phrase[0]!r} comes {phrase[1]} times; {phrase[2]:.0%} of its 3-word "
                "phrases repeat earlier ones): the model is stuck in a loop; a larger model may answer"]
    stretch = looping_stretch(answer)
    if stretch is not None:
        said = (f"{stretch[0]!r} is {stretch[1]:.0%} of {LOOP_WINDOW} words in a row" if stretch[2] == "word" else
                f"{stretch[0]!r} and more: {stretch[1]:.0%} of the 3-word phrases of {LOOP_WINDOW} words in a row "
                "repeat earlier ones")
        return [f"the answer repeats itself ({said}): the model is stuck in a loop; a larger model may answer"]
    return []
