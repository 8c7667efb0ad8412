"""The parts of a library question that can name its subject, for /library/ask's cosine floor.

A question with an instruction after it ("Which song mentions a silver mountain train? Then write the numbers from
1 to 300, separated by commas.") embeds as a mix of both: the whole text's cosine to its own lyric line fell under
the floor that kept weak, unrelated passages from the model. Each clause is embedded on its own and a passage is
scored by its best one (library/service.py), so the subject is weighed without what is asked of the answer.

Split at sentence ends (. ? ! and line breaks), at ";" and at an instruction's "then" ("..., then ...",
"... and then ..."); a clause of fewer than MIN_WORDS words is no subject ("Thanks."). Of more than MAX_CLAUSES,
those that end in "?" are kept first, then the last, then the first ones (in the question's order).
"""

from __future__ import annotations

import re

SENTENCE_RE = re.compile(r"(?<=[.?!])\s+|\n+")
JOIN_RE = re.compile(r"\s*;\s*|,?\s+(?:and\s+)?then\b\s*|^\s*then\b\s*", re.IGNORECASE)
WORD_RE = re.compile(r"\w+")
MIN_WORDS = 2
MAX_CLAUSES = 8  # embedded per question at most (each is a query of the embedder)


def question_clauses(question: str) -> list[str]:
    """The question's clauses (itself alone when it has one), in order, each once."""
    parts = []
    for sentence in SENTENCE_RE.split(question):
        parts += JOIN_RE.split(sentence)
    clauses = [p.strip(" ,") for p in parts if p and len(WORD_RE.findall(p)) >= MIN_WORDS]
    unique = list(dict.fromkeys(clauses))
    if len(unique) > MAX_CLAUSES:
        # the ones asked ("...?") first, then the last, then the first ones: a stranger's question after eight
        # sentences of instructions ("Please answer briefly. ... Which song mentions a silver mountain train?")
        # had kept only the instructions and been answered "Nothing in your library matches"
        asked = [i for i, c in enumerate(unique) if c.endswith("?")]
        order = dict.fromkeys([*asked, len(unique) - 1, *range(len(unique))])
        unique = [unique[i] for i in sorted(list(order)[:MAX_CLAUSES])]
    return unique or [question.strip()]
