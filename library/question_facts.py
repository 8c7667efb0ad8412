"""Measured facts a library question names: keys, a tempo, a metre ("which tracks are in D major?").

Retrieval for /library/ask searches transcripts and analyses, where a key or a tempo is rarely written; what the
analysis measured lives in the track rows (GET /library/tracks filters on it). A question that names such a fact
is answered from the tracks measured so: a question no track matches is told so, and one that asks for nothing
but the list (`QuestionFacts.listing`: "which tracks are in D major?") is answered with it, both without a model
(a stranger's "which tracks are in D major?" had got "Nothing in your library matches" beside a listing that
held two, and then, with the model, titles and files that exist nowhere). Other questions that name a fact
("which song in D major is about rain?") go to the model with those tracks as the candidates.

Read in any case ("d major", "F MAJOR", "c# minor"): a key with its mode ("D major", "B flat minor", "Fmaj"), a
short form ("Am", "F#m") or a bare tonic ("D") after "in" or "key of", a Camelot code ("8A"); every key the
question names (E major or E minor). "A minor" / "a major" needs a word that introduces a key before it ("in",
"of", "key", ...): otherwise it is mostly the article ("a minor change"). A tempo needs "BPM", or is "slow" or "fast"
(PACES: a stranger's "slow songs in A minor" and "something fast" had been searched as words while "the slowest" was
read as a tempo); a metre is written like 3/4. A file of the library named with its extension ("what key is
groove_000.wav in?") selects that track (any case): asked only what was measured of it, the answer is its
measurements (a stranger's "what key is groove_000.wav in?" had been answered "Nothing in your library matches", the
search finding no words in a track that has no transcript).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from worker.camelot import PITCH_NAMES, camelot_code
from worker.llm.claims import ACCIDENTALS, KEY_INTRODUCERS, PITCH_CLASSES

from .store import TrackFilter

TEMPO_TOLERANCE_BPM = 2.0  # "120 BPM" in a question: 118-122 ...
TEMPO_TOLERANCE_SHARE = 0.03  # ... or within 3 % (a measured 123.5 for "about 120")
_BPM = r"(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)"
_RANGE_RE = re.compile(r"(?:between\s+)?(\d{2,3}(?:\.\d+)?)\s*(?:bpm\s*)?(?:-|–|to|and)\s*" + _BPM, re.I)
_MIN_RE = re.compile(r"(?:over|above|faster than|more than|at least)\s+" + _BPM, re.I)
_MAX_RE = re.compile(r"(?:under|below|slower than|less than|at most)\s+" + _BPM, re.I)
_TEMPO_RE = re.compile(r"(?<![\d.])" + _BPM, re.I)
# "slow" and "fast" as tempo conditions on what was measured, (tempo_min, tempo_max): the tempo marks' Largo, Adagio
# and lower Andante (about 40-90) and the ballads' 60-85 are slow; Allegro's upper half, Vivace and Presto (130 and
# over), punk, drum and bass and hardcore are fast; the moderate 90-130 between holds most pop and dance (house at
# 120-128). A tempo read at half or double time (worker/music/beats.py) is as measured: the answer says "measured".
SLOW_MAX_BPM = 90.0
FAST_MIN_BPM = 130.0
PACES = {"slow": (None, SLOW_MAX_BPM), "fast": (FAST_MIN_BPM, None)}
_PACE_WORDS = {"slow": "slow", "fast": "fast", "quick": "fast", "uptempo": "fast", "up-tempo": "fast"}
# (not "how fast is song.wav?", which asks for the measurement)
_PACE_NOUN_RE = re.compile(r"\s+(?:" + "|".join(sorted(["tracks", "track", "songs", "song", "pieces", "piece", "music",
                                                       "tunes", "tune", "recordings", "recording", "ones", "one",
                                                       "stuff"], key=len, reverse=True)) + r")\b", re.I)
_PACE_RE = re.compile(r"(?<!\bhow )(?<!\bhow  )\b(slow|fast|quick|up-?tempo)\b", re.I)
_ACCIDENTAL = r"(#|♯|b|♭|\s?-?sharp|\s?-?flat)?"
_KEY_RE = re.compile(r"(?<![\w#♯♭])([a-g])" + _ACCIDENTAL + r"\s?-?\s?(major|minor|maj|min)(?![\w#])", re.I)
_SHORT_KEY_RE = re.compile(r"\b(in|key of|or|and)\s+([a-g])(#|♯|b|♭)?(m)?(?![\w#♯♭])", re.I)
_ENDS_HERE_RE = re.compile(r"\s*(?:[?.!,;]|$|(?:or|and)\b)", re.I)  # after a bare tonic: "in D?", "in D or E"
_CAMELOT_RE = re.compile(r"(?<![\w/])(1[0-2]|[1-9])([AB])(?![\w/])", re.I)
_METRE_RE = re.compile(r"(?<![\w/])(\d{1,2})/(2|4|8|16)(?![\w/])")
_WORD_RE = re.compile(r"[a-z']+")
# a file named with an audio extension, as uploads are named ([A-Za-z0-9._-])
_FILE_RE = re.compile(r"(?<![\w.-])([A-Za-z0-9_][A-Za-z0-9._-]{0,200}\.(?:wav|wave|mp3|mp2|flac|ogg|oga|opus|m4a|aac"
                      r"|aif|aiff|aifc|wma|webm|mka|caf|wv|w64))(?![\w-])", re.I)
# a superlative asks for the tracks ranked by a measurement: (the column, largest first)
SUPERLATIVES = {"fastest": ("tempo_bpm", True), "quickest": ("tempo_bpm", True), "slowest": ("tempo_bpm", False),
                "longest": ("duration_seconds", True), "shortest": ("duration_seconds", False),
                "loudest": ("loudness_lufs", True), "quietest": ("loudness_lufs", False),
                "softest": ("loudness_lufs", False)}
_SUPERLATIVE_RE = re.compile(r"\b(" + "|".join(SUPERLATIVES) + r")\b", re.I)
TRACK_NOUNS = frozenset({"tracks", "track", "songs", "song", "pieces", "piece", "files", "recordings", "tunes",
                         "music"})
# the words of a question that asks for the list and nothing else, once its keys, tempo and metre are taken out
LIST_WORDS = frozenset("""
    which what whats what's where are is were was there any anything all every everything list show me my mine i
    the a an tracks track songs song pieces piece music files file recordings recording tunes tune stuff something
    in at of on key keys with do does have has got find give tell name names please some for that those these here
    tempo time signature metre meter around about roughly near nearly exactly approximately and or measured written
    library analysed analyzed uploaded s one ones top most
    """.split())
# and, of a question that names a file, these: "how fast is song.wav?", "how long is it?"
FILE_LIST_WORDS = LIST_WORDS | frozenset("""
    how fast long loud speed bpm length duration loudness camelot code it its measurement measurements
    """.split())


@dataclass(frozen=True)
class QuestionFacts:
    key: str | None = None  # as the question wrote them: "E major or E minor"
    camelot: tuple[str, ...] = ()
    tempo_min: float | None = None
    tempo_max: float | None = None
    metre: str | None = None
    ranked: str | None = None  # a superlative: "slowest" (SUPERLATIVES says by what)
    every: bool = False  # "list my tracks": every track, no filter
    listing: bool = False  # the question asks for the matching tracks and nothing more
    files: tuple[str, ...] = ()  # file names as the question wrote them: "groove_000.wav"
    pace: str | None = None  # "slow" or "fast" (PACES): the tempo range is that word's

    def __bool__(self) -> bool:
        return bool(self.camelot or self.files) or self.ranked is not None or self.every or any(
            v is not None for v in (self.tempo_min, self.tempo_max, self.metre))

    def track_filter(self) -> TrackFilter:
        return TrackFilter(camelot=self.camelot, tempo_min=self.tempo_min, tempo_max=self.tempo_max,
                           tempo_multiples=False, metre=self.metre, filenames=self.files)

    def described(self) -> str:
        """'in D major, at 118-122 BPM, in 3/4': what the tracks were measured as (or no track was)."""
        parts = []
        if self.key or self.camelot:
            parts.append(f"in {self.key or ' or '.join(self.camelot)}")
        if self.pace is not None:
            parts.append(f"at a {self.pace} tempo ({_pace_range(self.pace)})")
        elif self.tempo_min is not None and self.tempo_max is not None:
            parts.append(f"at {self.tempo_min:g}-{self.tempo_max:g} BPM")
        elif self.tempo_min is not None:
            parts.append(f"above {self.tempo_min:g} BPM")
        elif self.tempo_max is not None:
            parts.append(f"below {self.tempo_max:g} BPM")
        if self.metre:
            parts.append(f"in {self.metre}")
        if self.files:
            parts.append(f"named {' or '.join(self.files)}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {"key": self.key, "camelot": list(self.camelot), "tempo_min": self.tempo_min,
                "tempo_max": self.tempo_max, "metre": self.metre, "ranked": self.ranked,
                "files": list(self.files)}


def question_facts(question: str) -> QuestionFacts:
    """The keys, tempo range and metre `question` names; empty when it names none."""
    spans: list[tuple[int, int]] = []
    files = _files(question, spans)
    text = "".join(" " if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(question))
    # (a file's name is no key, tempo or metre: "emin.wav", "8A.wav")
    names, codes = _keys(text, spans)
    tempo_min, tempo_max = _tempo(text, spans)
    pace, beside_noun = _pace(text, spans)  # (a tempo named in BPM is the one read: "slow songs under 100 BPM")
    if pace is not None and tempo_min is None and tempo_max is None:
        tempo_min, tempo_max = PACES[pace]
    else:
        pace = None
    metre = _METRE_RE.search(text)
    if metre:
        spans.append(metre.span())
    ranked = _SUPERLATIVE_RE.search(text)
    if ranked:
        spans.append(ranked.span())
    facts = QuestionFacts(key=" or ".join(names) or None, camelot=tuple(codes), tempo_min=tempo_min,
                          tempo_max=tempo_max, metre=metre.group(0) if metre else None,
                          ranked=ranked.group(1).lower() if ranked else None, files=files, pace=pace)
    rest = "".join(" " if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(question))
    words = [w.strip("'") for w in _WORD_RE.findall(rest.lower())]
    only_list_words = all(w in (FILE_LIST_WORDS if files else LIST_WORDS) for w in words)
    if pace is not None and not beside_noun and not only_list_words:  # "which song has fast drums?": a word
        facts = replace(facts, pace=None, tempo_min=None, tempo_max=None)
    if not facts and only_list_words and TRACK_NOUNS & set(words):  # "list my tracks", "what songs do I have?"
        return QuestionFacts(every=True, listing=True)
    return replace(facts, listing=bool(facts) and only_list_words)


def _files(question: str, spans: list[tuple[int, int]]) -> tuple[str, ...]:
    """The file names the question gives (each once, in its order); their spans are not read for keys or words."""
    names: list[str] = []
    for m in _FILE_RE.finditer(question):
        spans.append(m.span())
        if m.group(1).lower() not in {n.lower() for n in names}:
            names.append(m.group(1))
    return tuple(names)


def _keys(question: str, spans: list[tuple[int, int]]) -> tuple[list[str], list[str]]:
    """The keys named (as written) and their Camelot codes, in the question's order, each once."""
    found: list[tuple[int, str, str]] = []
    for m in _KEY_RE.finditer(question):
        letter, accidental, mode = m.groups()
        if letter.lower() == "a" and not accidental and not _introduced(question, m.start()):
            continue  # "a minor change": the article
        found.append((m.start(), m.group(0), _code(letter, accidental, "minor" if mode.lower().startswith("min")
                                                  else "major")))
        spans.append(m.span())
    for m in _SHORT_KEY_RE.finditer(question):
        if _short_key(question, m) and not any(a <= m.start(2) < b for a, b in spans):
            letter, accidental, minor = m.group(2, 3, 4)
            found.append((m.start(2), question[m.start(2):m.end()], _code(letter, accidental,
                                                                            "minor" if minor else "major")))
            spans.append((m.start(2), m.end()))
    for m in _CAMELOT_RE.finditer(question):
        found.append((m.start(), m.group(0).upper(), m.group(0).upper()))
        spans.append(m.span())
    names, codes = [], []
    for _, name, code in sorted(found):
        if code not in codes:
            names.append(name)
            codes.append(code)
    return names, codes


def _short_key(question: str, m: re.Match[str]) -> bool:
    """Whether "in Am", "in f#m", "in Bb", "in D?", "Em or Am" names a key: lower case only as "in am" (after "or" or
    "and", "am" is the verb); a tonic alone in capitals, not A, and only where the phrase ends ("in A moment")."""
    introducer, letter, accidental, minor = m.groups()
    if letter.islower() and (not minor or introducer.lower() in ("or", "and")):
        return False
    if minor or accidental:
        return True
    return letter != "A" and _ENDS_HERE_RE.match(question, m.end()) is not None


def _introduced(text: str, start: int) -> bool:
    before = re.findall(r"[A-Za-z]+", text[max(0, start - 20):start])
    return bool(before) and before[-1].lower() in KEY_INTRODUCERS


def _code(letter: str, accidental: str | None, mode: str) -> str:
    sign = (accidental or "").strip().lstrip("-").lower()
    pc = (PITCH_CLASSES[letter.upper()] + ACCIDENTALS.get(sign, ACCIDENTALS.get(f" {sign}", 0))) % 12
    return str(camelot_code(tonic=PITCH_NAMES[pc], mode=mode))


def _tempo(question: str, spans: list[tuple[int, int]]) -> tuple[float | None, float | None]:
    for pattern in (_RANGE_RE, _MIN_RE, _MAX_RE, _TEMPO_RE):
        found = pattern.search(question)
        if found is None:
            continue
        spans.append(found.span())
        if pattern is _RANGE_RE:
            lo, hi = sorted((float(found.group(1)), float(found.group(2))))
            return lo, hi
        bpm = float(found.group(1))
        if pattern is _MIN_RE:
            return bpm, None
        if pattern is _MAX_RE:
            return None, bpm
        margin = max(TEMPO_TOLERANCE_BPM, TEMPO_TOLERANCE_SHARE * bpm)
        return round(bpm - margin, 1), round(bpm + margin, 1)
    return None, None


def _pace(question: str, spans: list[tuple[int, int]]) -> tuple[str | None, bool]:
    """("slow" or "fast", whether a track noun follows it) where the question names one ("slow songs in A minor",
    "which fast song mentions rain?", "something fast"); the caller keeps it where the noun follows or where the
    rest of the question only asks for the list ("which song has fast drums?", "a song about running fast" name
    no tempo)."""
    found = _PACE_RE.search(question)
    if found is None:
        return None, False
    spans.append(found.span())
    noun = _PACE_NOUN_RE.match(question, found.end())
    return _PACE_WORDS[found.group(1).lower()], noun is not None


def _pace_range(pace: str) -> str:
    low, high = PACES[pace]
    return f"{high:g} BPM or less" if low is None else f"{low:g} BPM or more"
