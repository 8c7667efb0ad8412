"""Measured facts a library question names: a key, a tempo, a metre ("which tracks are in D major?").

Retrieval for /library/ask searches transcripts and analyses, where a key or a tempo is rarely written; what the
analysis measured lives in the track rows (GET /library/tracks filters on it). A question that names such a fact
is answered from the tracks measured so: they are the candidates, and a question no track matches is told so
without asking a model (a stranger's "which tracks are in D major?" had got "Nothing in your library matches"
beside a listing that held two).

Read conservatively: a key needs its mode word ("D major", "F# minor", "B flat minor"), a short form after "in"
("in Am", "in F#m") or a Camelot code ("8A"); a tempo needs "BPM"; a metre is written like 3/4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.camelot import PITCH_NAMES, camelot_code, parse_key
from worker.llm.claims import keys_named

from .store import TrackFilter

TEMPO_TOLERANCE_BPM = 2.0  # "120 BPM" in a question: 118-122 ...
TEMPO_TOLERANCE_SHARE = 0.03  # ... or within 3 % (a measured 123.5 for "about 120")
_BPM = r"(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)"
_RANGE_RE = re.compile(r"(?:between\s+)?(\d{2,3}(?:\.\d+)?)\s*(?:bpm\s*)?(?:-|–|to|and)\s*" + _BPM, re.I)
_MIN_RE = re.compile(r"(?:over|above|faster than|more than|at least)\s+" + _BPM, re.I)
_MAX_RE = re.compile(r"(?:under|below|slower than|less than|at most)\s+" + _BPM, re.I)
_TEMPO_RE = re.compile(r"(?<![\d.])" + _BPM, re.I)
_SHORT_KEY_RE = re.compile(r"\b(?:in|key of)\s+([A-G](?:#|♯|b|♭)?m)(?![\w#])")
_CAMELOT_RE = re.compile(r"(?<![\w/])(1[0-2]|[1-9])([AB])(?![\w/])")
_METRE_RE = re.compile(r"(?<![\w/])(\d{1,2})/(2|4|8|16)(?![\w/])")


@dataclass(frozen=True)
class QuestionFacts:
    key: str | None = None  # as the result shows it: "D major"
    camelot: str | None = None
    tempo_min: float | None = None
    tempo_max: float | None = None
    metre: str | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.camelot, self.tempo_min, self.tempo_max, self.metre))

    def track_filter(self) -> TrackFilter:
        return TrackFilter(camelot=(self.camelot,) if self.camelot else (), tempo_min=self.tempo_min,
                           tempo_max=self.tempo_max, tempo_multiples=False, metre=self.metre)

    def described(self) -> str:
        """'in D major, at 118-122 BPM, in 3/4': what no track matched, for the answer."""
        parts = []
        if self.key or self.camelot:
            parts.append(f"in {self.key or self.camelot}")
        if self.tempo_min is not None and self.tempo_max is not None:
            parts.append(f"at {self.tempo_min:g}-{self.tempo_max:g} BPM")
        elif self.tempo_min is not None:
            parts.append(f"above {self.tempo_min:g} BPM")
        elif self.tempo_max is not None:
            parts.append(f"below {self.tempo_max:g} BPM")
        if self.metre:
            parts.append(f"in {self.metre}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {"key": self.key, "camelot": self.camelot, "tempo_min": self.tempo_min, "tempo_max": self.tempo_max,
                "metre": self.metre}


def question_facts(question: str) -> QuestionFacts:
    """The key, tempo range and metre `question` names (the first of each); empty when it names none."""
    key, camelot = _key(question)
    tempo_min, tempo_max = _tempo(question)
    metre = _METRE_RE.search(question)
    return QuestionFacts(key=key, camelot=camelot, tempo_min=tempo_min, tempo_max=tempo_max,
                         metre=metre.group(0) if metre else None)


def _key(question: str) -> tuple[str | None, str | None]:
    named = keys_named(question)
    if named:
        (pc, mode), written = named[0]
        return written, camelot_code(tonic=PITCH_NAMES[pc], mode=mode)
    short = _SHORT_KEY_RE.search(question)
    if short:
        code = parse_key(short.group(1))
        tonic = short.group(1)[:-1].replace("♯", "#").replace("♭", "b")
        return (f"{tonic} minor", code) if code else (None, None)
    found = _CAMELOT_RE.search(question)
    if found:
        return None, f"{found.group(1)}{found.group(2)}"
    return None, None


def _tempo(question: str) -> tuple[float | None, float | None]:
    found = _RANGE_RE.search(question)
    if found:
        lo, hi = sorted((float(found.group(1)), float(found.group(2))))
        return lo, hi
    found = _MIN_RE.search(question)
    if found:
        return float(found.group(1)), None
    found = _MAX_RE.search(question)
    if found:
        return None, float(found.group(1))
    found = _TEMPO_RE.search(question)
    if found:
        bpm = float(found.group(1))
        margin = max(TEMPO_TOLERANCE_BPM, TEMPO_TOLERANCE_SHARE * bpm)
        return round(bpm - margin, 1), round(bpm + margin, 1)
    return None, None
