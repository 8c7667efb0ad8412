"""Facts in a model's answer that its prompt does not support: keys, tempi and track names it invented.

A small model asked to compare tracks or answer from excerpts names keys, tempi and files. Those are checked
against what it was given, read back from the prompt itself (the measured key lines, the chords as `C:maj`, the
tempi as `N BPM`, the file names), so the check needs no second copy of the facts. What is not supported
becomes a warning in the result; the answer itself is never edited.

What counts as supported, and why:
- a key the prompt names, a chord's key (`E:maj` -> E major: "the E major chord" is prose about a chord), or the
  relative key of one the prompt names (same notes; "its relative minor" is a fair inference);
  enharmonic spellings are one key (C# major = Db major); the parallel key is not (same tonic, the mode named
  wrong);
- a tempo within TEMPO_TOLERANCE of a prompt tempo, of its double or half, or of the difference of two;
- a file name (audio extension) that is one of the given tracks;
- (library answers only: `unknown_names`) a quoted title, or a name after "titled", "called" or "by", that the
  prompt holds (its excerpts and the question; a quote of 3 words or more with small slips, as the lyrics
  analysis's check allows: a stranger's SmolLM2 answer misquoting an excerpt by a word had been called invented).
  A model that hears the audio may quote lyrics no prompt holds, so the audio analyses do not run this check.
- (library answers only: `misattributed_quotes`) a quote put next to a file name is that track's: one its
  excerpts do not hold while another track's do is named with the track that holds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
ACCIDENTALS = {"": 0, "#": 1, "♯": 1, " sharp": 1, "b": -1, "♭": -1, " flat": -1}
KEY_RE = re.compile(r"(?<![\w#])([A-G])(#|♯|b|♭| sharp| flat)?[ -](major|minor)\b")
CHORD_RE = re.compile(r"(?<![\w#])([A-G])(#|b)?:(maj|min|7)\b")
TEMPO_RE = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d+)?)\s*(?:BPM|bpm|beats per minute)")
AUDIO_EXTENSIONS = ("wav", "mp3", "ogg", "oga", "opus", "flac", "m4a", "aac", "aif", "aiff", "wma", "webm", "caf",
                    "wv")
FILE_END_RE = re.compile(r"\.(?:" + "|".join(AUDIO_EXTENSIONS) + r")\b", re.IGNORECASE)
TEMPO_TOLERANCE_BPM = 1.5  # a tempo rounded in prose ("about 120 BPM" for 119.4) ...
TEMPO_TOLERANCE_SHARE = 0.02  # ... or within 2 % of it
# "A minor" opening a sentence is mostly the article ("A minor change"): counted only after a word that
# introduces a key
KEY_INTRODUCERS = frozenset({"in", "of", "to", "from", "key", "the", "and", "or", "than", "into", "between"})
# A title in double or curly quotes, or in single quotes that no letter touches ("don't" is no quote)
QUOTED_RE = re.compile(r"[\"“”«»]([^\"“”«»\n]{2,120})[\"“”«»]|(?<![\w'‘’])['‘]([^'‘’\n]{2,80})['’](?![\w'‘’])")
# A proper name after the words that introduce a title or an artist: up to four capitalised words ("of", "the",
# "and" between them)
NAME_WORD = r"[A-Z][\w'’.&-]*"
NAMED_RE = re.compile(rf"\b(?:titled|called|named|by)\s+({NAME_WORD}(?:(?:\s+(?:of|the|and))*\s+{NAME_WORD}){{0,3}})")
MAX_NAME_CHARS = 255  # of a file name read back from an answer (a file system's usual limit)
MAX_LISTED = 3  # unsupported items named in one warning


def _key(letter: str, accidental: str | None, mode: str) -> tuple[int, str]:
    return (PITCH_CLASSES[letter] + ACCIDENTALS[accidental or ""]) % 12, mode


def keys_named(text: str) -> list[tuple[tuple[int, str], str]]:
    """(pitch class, mode) and the words as written, for each key the text names."""
    out = []
    for m in KEY_RE.finditer(text):
        letter, accidental, mode = m.groups()
        if letter == "A" and not accidental:
            before = re.findall(r"[A-Za-z]+", text[max(0, m.start() - 20):m.start()])
            if not before or before[-1].lower() not in KEY_INTRODUCERS:
                continue
        out.append((_key(letter, accidental, mode), m.group(0)))
    return out


def supported_keys(prompt: str) -> set[tuple[int, str]]:
    """The keys a prompt supports: those it names, its chords' keys, and the relatives of the keys it names."""
    named = {k for k, _ in keys_named(prompt)}
    relatives = {((pc + 9) % 12, "minor") if mode == "major" else ((pc + 3) % 12, "major") for pc, mode in named}
    chords = {_key(letter, accidental, "minor" if quality == "min" else "major")
              for letter, accidental, quality in CHORD_RE.findall(prompt)}
    return named | relatives | chords


def supported_tempi(prompt: str) -> list[float]:
    """Every tempo the prompt gives, its double and half, and the difference of every two."""
    given = [float(t) for t in TEMPO_RE.findall(prompt)]
    out = [t * f for t in given for f in (1.0, 2.0, 0.5)]
    out += [abs(a - b) for i, a in enumerate(given) for b in given[i + 1:]]
    return out


def _tempo_supported(bpm: float, tempi: Iterable[float]) -> bool:
    return any(abs(bpm - t) <= max(TEMPO_TOLERANCE_BPM, TEMPO_TOLERANCE_SHARE * t) for t in tempi)


def unknown_files(answer: str, tracks: Sequence[str]) -> list[str]:
    """File names (audio extensions) in the answer that are none of `tracks`: the word before each extension
    when no track's name ends there (names may hold spaces, so the tracks are matched, not the word)."""
    lowered = answer.lower()
    out: list[str] = []
    for m in FILE_END_RE.finditer(answer):
        if any(lowered.endswith(t.lower(), 0, m.end()) for t in tracks):
            continue
        # the word before the extension, from a bounded window: a regex anchored at the end of the whole answer
        # is quadratic in a long unbroken run of characters
        word = re.search(r"[^\s\"'`(\[]*$", answer[max(0, m.start() - MAX_NAME_CHARS):m.start()])
        name = (word.group(0) if word else "") + m.group(0)
        if name not in out:
            out.append(name)
    return out


def unsupported_claims(answer: str, *, prompt: str, tracks: Sequence[str]) -> list[str]:
    """Warnings naming the keys, tempi and files of `answer` that `prompt` does not support (module docstring)."""
    out = []
    keys = supported_keys(prompt)
    bad_keys: list[str] = []
    for key, written in keys_named(answer):
        if key not in keys and written not in bad_keys:
            bad_keys.append(written)
    if bad_keys:
        out.append(f"the answer names {listed_items(bad_keys)}, which the measurements do not: check it against the "
                   "measured keys")
    tempi = supported_tempi(prompt)
    bad_tempi = [f"{t} BPM" for t in dict.fromkeys(TEMPO_RE.findall(answer)) if not _tempo_supported(float(t), tempi)]
    if bad_tempi:
        out.append(f"the answer gives {listed_items(bad_tempi)}, which the measurements do not (nor their double, half "
                   "or difference): check it against the measured tempi")
    files = unknown_files(answer, tracks)
    if files:
        out.append(f"the answer names {listed_items(files)}, which is none of the tracks it was given")
    return out


def unknown_names(answer: str, *, prompt: str) -> list[str]:
    """Titles and names the answer gives that the prompt does not hold: quoted text, and capitalised words after
    "titled", "called", "named" or "by" (a small model's inventions, such as "'Ocean Waves' by John Doe", for a
    library of untitled recordings), compared without case, spacing or the punctuation around them. File names are
    `unknown_files`' to judge."""
    from worker.lyrics.quotes import HEARD_SHARE, MIN_QUOTED_WORDS, heard_share, words_of

    held = " ".join(prompt.lower().split())
    held_words: list[str] | None = None
    out: list[str] = []
    found = [m.group(1) or m.group(2) for m in QUOTED_RE.finditer(answer)]
    found += [m.group(1) for m in NAMED_RE.finditer(answer)]
    for name in found:
        plain = " ".join(name.split()).strip(" .,;:!?-")
        if len(plain) < 2 or FILE_END_RE.search(plain) or plain.lower() in held or plain in out:
            continue
        words = words_of(plain)
        if len(words) >= MIN_QUOTED_WORDS:  # a line quoted with a slip is a quote of it, as the lyrics check says
            held_words = words_of(prompt) if held_words is None else held_words
            if heard_share(words, held_words) >= HEARD_SHARE:
                continue
        out.append(plain)
    return out


def misattributed_quotes(answer: str, excerpts: Mapping[str, Sequence[str]]) -> list[tuple[str, str, list[str]]]:
    """Quotes the answer credits to a track that its excerpts do not hold while another track's do: (quote, the
    track credited, the tracks whose excerpts hold it). A quote is credited to the file name of `excerpts` (file
    -> its excerpt texts) nearest to it in its sentence; quotes of fewer than MIN_QUOTED_WORDS words, and quotes
    near no file name, are not judged (SmolLM2 had credited river.wav's line to fire.wav, and the check had only
    asked whether some excerpt held it)."""
    from worker.lyrics.quotes import HEARD_SHARE, MIN_QUOTED_WORDS, heard_share, words_of

    lowered = answer.lower()
    quotes = [(m.start(), m.end(), m.group(1) or m.group(2)) for m in QUOTED_RE.finditer(answer)]
    inside = [(start, end) for start, end, _ in quotes]
    ends = [m.start() for m in re.finditer(r"[.!?](?=\s)|\n", answer)
            if not any(start < m.start() < end for start, end in inside)]
    names = [(m.start(), m.end(), name) for name in excerpts
             for m in re.finditer(r"(?<![\w.-])" + re.escape(name.lower()) + r"(?!\w)", lowered)]
    held = {name: words_of(" ".join(texts)) for name, texts in excerpts.items()}
    out: list[tuple[str, str, list[str]]] = []

    def holds(heard: list[str]) -> bool:
        return heard_share(words, heard) >= HEARD_SHARE

    for start, end, quote in quotes:
        words = words_of(quote)
        if len(words) < MIN_QUOTED_WORDS or FILE_END_RE.search(quote):
            continue
        lo = max((e for e in ends if e < start), default=-1)
        hi = min((e for e in ends if e >= end), default=len(answer))
        near = sorted((s - end if s >= end else start - e, name) for s, e, name in names
                      if lo < s and e <= hi + 1 and not start <= s < end)
        if not near or holds(held[near[0][1]]):
            continue
        credited = near[0][1]
        holders = [n for n in excerpts if n != credited and holds(held[n])]
        if holders and (quote, credited, holders) not in out:
            out.append((quote, credited, holders))
    return out


def listed_items(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")
