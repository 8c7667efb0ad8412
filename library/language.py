"""Whether a library question looks like English: the search's embedder (all-MiniLM-L6-v2) and full-text index read
English only, so a question in another language matches nothing and had been told only "Nothing in your library
matches the question", not why (a stranger's French question).

The rule is simple and deterministic, so its answer can be predicted and tested:
- more than NON_ASCII_SHARE of the question's letters outside ASCII: another script (Japanese, Russian, Greek,
  Arabic...) or a language written with many accents; a name such as "Beyoncé" or "Björk" in an English question
  is a letter or two of many;
- else a question of MIN_WORDS words or more none of which is one of ENGLISH_WORDS: French, German, Spanish,
  Italian, Portuguese... Shorter questions ("sad songs", "chansons tristes") are too short to tell: English.
It can be wrong: a string of four content words ("sad piano love songs") is taken for another language, and a
foreign question that borrows one of the words is taken for English. Its only use is a hint after "nothing matches",
worded so that it holds either way.
"""

from __future__ import annotations

import re

NON_ASCII_SHARE = 0.3  # of a question's letters, above which it is not English
MIN_WORDS = 4  # a question shorter than this is not judged by its words
# very common English function words that are not also common words of French, German, Spanish, Italian, Portuguese
# or Dutch (so "a", "in", "on", "an", "is", "of", "was", "will", "had", "we", "her", "die", "so", "me", "he", "has",
# "do", "i", "to", "for" are left out): a question of MIN_WORDS words in English nearly always holds one
ENGLISH_WORDS = frozenset("""
the this that these those there here what which who whom whose where when why how
and but not with without about from into than then
are were been being does did have having
can could would should shall may might must
it its they them their you your my our she his him
any some every each many much more most very
""".split())
WORD_RE = re.compile(r"[^\W\d_]+")  # runs of letters: "what's" is "what" and "s", "d'amour" "d" and "amour"


def looks_english(question: str) -> bool:
    """Whether `question` looks like English by the rule above (True where there are no letters to judge)."""
    letters = [c for c in question if c.isalpha()]
    if not letters:
        return True
    if sum(not c.isascii() for c in letters) > NON_ASCII_SHARE * len(letters):
        return False
    words = WORD_RE.findall(question.lower())
    return len(words) < MIN_WORDS or any(w in ENGLISH_WORDS for w in words)
