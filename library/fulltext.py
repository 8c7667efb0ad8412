"""Lyric search over transcript lines: exact phrases, then fuzzy matches for misspelt or misheard words.

Phrases use the database's full-text index (SQLite FTS5, PostgreSQL tsvector). Fuzzy search first expands
each query word to the closest known words (the vocabulary of all lines, searched by trigrams: FTS5 or
pg_trgm), finds lines holding any of them with the same full-text index, and scores them here the same way
for both databases: for each query word the best similarity (difflib ratio) to a word of the line, averaged.
A line scoring FUZZY_MIN or more is a hit. Every query reads a bounded number of rows. On SQLite the full-text
table drives the join (CROSS JOIN): the planner otherwise walks the owner's lines and runs the MATCH once per
line (48 s for one query at 10,000 tracks).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from .db import Database

WORD_RE = re.compile(r"\w+", re.UNICODE)
FUZZY_MIN = 0.75
FUZZY_CANDIDATES = 200  # lines scored per fuzzy query, at most
VOCABULARY_CANDIDATES = 200  # known words compared with each query word, at most
VARIANTS_PER_WORD = 5  # nearest known words a query word is expanded to
WORD_MIN = 0.6  # difflib ratio for a known word to count as close
MAX_QUERY_WORDS = 24


@dataclass(frozen=True)
class LineHit:
    track_id: str
    line_no: int
    text: str
    start: float | None
    end: float | None
    match: str  # phrase | fuzzy
    score: float

    def to_dict(self) -> dict:
        return {"line_no": self.line_no, "text": self.text, "start_seconds": self.start,
                "end_seconds": self.end, "match": self.match, "score": round(self.score, 4)}


def words_of(text: str, *, most: int | None = MAX_QUERY_WORDS) -> list[str]:
    return [w.lower() for w in WORD_RE.findall(text)][:most]


def search_lines(db: Database, *, owner: str, query: str, limit: int, fuzzy: str) -> list[LineHit]:
    """Phrase hits first, then fuzzy ones (`fuzzy`: 'fts5 trigram' | 'pg_trgm' | 'words'), best first."""
    words = words_of(query)
    if not words:
        return []
    hits = {(h.track_id, h.line_no): h for h in _phrase(db, owner=owner, words=words, limit=limit)}
    if len(hits) < limit:
        for h in _fuzzy(db, owner=owner, words=words, fuzzy=fuzzy):
            hits.setdefault((h.track_id, h.line_no), h)
    return sorted(hits.values(), key=lambda h: (h.match != "phrase", -h.score, h.track_id, h.line_no))[:limit]


def _phrase(db: Database, *, owner: str, words: list[str], limit: int) -> list[LineHit]:
    if db.dialect == "postgresql":
        rows = db.query("SELECT track_id, line_no, text, start_seconds, end_seconds FROM lines "
                        "WHERE owner = ? AND tsv @@ phraseto_tsquery('simple', ?) ORDER BY track_id, line_no LIMIT ?",
                        (owner, " ".join(words), limit))
    else:
        phrase = '"' + " ".join(words).replace('"', '""') + '"'
        rows = db.query("SELECT l.track_id, l.line_no, l.text, l.start_seconds, l.end_seconds FROM lines_fts "
                        "CROSS JOIN lines l ON l.rowid = lines_fts.rowid WHERE lines_fts MATCH ? AND l.owner = ? "
                        "ORDER BY l.track_id, l.line_no LIMIT ?", (phrase, owner, limit))
    return [LineHit(r[0], int(r[1]), r[2], r[3], r[4], "phrase", 1.0) for r in rows]


def _fuzzy(db: Database, *, owner: str, words: list[str], fuzzy: str) -> list[LineHit]:
    """Lines holding words close to the query's: each query word expanded to its nearest known words (the
    vocabulary), lines matching any of them ranked by the full-text index, then scored here."""
    # words under 3 letters ('by', 'at') are not required (they still count in the score)
    groups = [g for g in (close_words(db, w, fuzzy=fuzzy) for w in words if len(w) >= 3) if g]
    if not groups:
        return []
    # every query word (that has close known words) must be there: a line missing one scores below FUZZY_MIN
    # anyway for short queries; longer queries fall back to any of them when that finds nothing
    rows = _lines_with(db, owner=owner, groups=groups, every=True)
    if not rows and len(groups) > 3:
        rows = _lines_with(db, owner=owner, groups=groups, every=False)
    out = []
    ratios: dict[tuple[str, str], float] = {}  # lines share most of their words: each pair is compared once
    for r in rows:
        score = similarity(words, words_of(r[2], most=None), memo=ratios)
        if score >= FUZZY_MIN:
            out.append(LineHit(r[0], int(r[1]), r[2], r[3], r[4], "fuzzy", score))
    return out


def _lines_with(db: Database, *, owner: str, groups: list[list[str]], every: bool) -> list[tuple]:
    if db.dialect == "postgresql":
        query = (" & " if every else " | ").join("(" + " | ".join(g) + ")" for g in groups)
        return db.query("SELECT track_id, line_no, text, start_seconds, end_seconds FROM lines WHERE owner = ? "
                        "AND tsv @@ to_tsquery('simple', ?) LIMIT ?", (owner, query, FUZZY_CANDIDATES))
    match = (" AND " if every else " OR ").join(
        "(" + " OR ".join('"' + v.replace('"', '""') + '"' for v in g) + ")" for g in groups)
    return db.query("SELECT l.track_id, l.line_no, l.text, l.start_seconds, l.end_seconds FROM lines_fts "
                    "CROSS JOIN lines l ON l.rowid = lines_fts.rowid WHERE lines_fts MATCH ? AND l.owner = ? LIMIT ?",
                    (match, owner, FUZZY_CANDIDATES))


def close_words(db: Database, word: str, *, fuzzy: str) -> list[str]:
    """The known words nearest `word` (itself included when known), at most VARIANTS_PER_WORD."""
    if len(word) < 3:  # no trigram to look it up by
        return [word]
    if db.dialect == "postgresql" and fuzzy == "pg_trgm":
        rows = db.query("SELECT word FROM vocabulary WHERE word % ? ORDER BY similarity(word, ?) DESC LIMIT ?",
                        (word, word, VOCABULARY_CANDIDATES))
    elif db.dialect == "postgresql":
        rows = db.query("SELECT word FROM vocabulary WHERE word LIKE ? LIMIT ?", (word[:2] + "%", 5000))
    else:
        grams = sorted({word[i:i + 3] for i in range(len(word) - 2)})
        match = " OR ".join('"' + g.replace('"', '""') + '"' for g in grams)
        rows = db.query("SELECT word FROM vocabulary_trigram WHERE vocabulary_trigram MATCH ? "
                        "ORDER BY rank LIMIT ?", (match, VOCABULARY_CANDIDATES))
        # short words with swapped letters share no trigram ('raod', 'road'): same first letter, similar length
        rows += db.query("SELECT word FROM vocabulary WHERE word >= ? AND word < ? AND length(word) BETWEEN ? AND ? "
                         "LIMIT ?", (word[0], word[0] + "\U0010ffff", len(word) - 1, len(word) + 1,
                                     VOCABULARY_CANDIDATES))
    scored = sorted(((difflib.SequenceMatcher(None, word, w).ratio(), w) for w in {r[0] for r in rows}),
                    reverse=True)
    return [w for ratio, w in scored if ratio >= WORD_MIN][:VARIANTS_PER_WORD]


def similarity(query: list[str], line: list[str], *, memo: dict[tuple[str, str], float] | None = None) -> float:
    """Mean over query words of the best difflib ratio to a word of the line (0..1)."""
    if not query or not line:
        return 0.0
    memo = {} if memo is None else memo
    total = 0.0
    distinct = set(line)
    for q in query:
        if q in distinct:
            total += 1.0
            continue
        best = 0.0
        for w in distinct:
            ratio = memo.get((q, w))
            if ratio is None:
                ratio = memo[(q, w)] = difflib.SequenceMatcher(None, q, w).ratio()
            best = max(best, ratio)
        total += best
    return total / len(query)
