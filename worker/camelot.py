"""Keys on the Camelot wheel: the code of a key, its relative, and the keys a DJ can mix it with; and the
tempo match of two tracks. compare's `mixable` and the library's `similar?mix=1` both decide with these (compare
had called tracks mixable within 4 % of the faster tempo, the library within 6 % of the seed's: one pair was
"different tempi" in one and an exact match in the other).

The wheel numbers the circle of fifths 1-12, `B` for major and `A` for minor (C major = 8B, A minor = 8A).
Harmonically compatible neighbours of a key are the same code, its relative (same number, other letter) and
one step either way round the wheel with the same letter (a fifth up or down).
"""

from __future__ import annotations

import re

MIX_TEMPO_PERCENT = 6.0  # default of LIBRARY_MIX_TEMPO_PERCENT: a DJ's pitch fader (+-6 %, +-8 % on most decks)

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# the other spellings of the twelve: flats, and the sharps that name a white key (E# minor is F minor)
_FLATS = {"DB": "C#", "EB": "D#", "GB": "F#", "AB": "G#", "BB": "A#", "CB": "B", "FB": "E", "E#": "F", "B#": "C"}
_CODE_RE = re.compile(r"^\s*(1[0-2]|[1-9])\s*([ABab])\s*$")
_KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*([#b♯♭]?)\s*(major|minor|maj|min|m)?\s*$", re.I)


def camelot_code(*, tonic: str, mode: str) -> str | None:
    """'A', 'minor' -> '8A'; None for anything that is not a key."""
    pc = _pitch_class(tonic)
    if pc is None or mode not in ("major", "minor"):
        return None
    major_pc = pc if mode == "major" else (pc + 3) % 12  # a minor key sits beside its relative major
    number = (7 * major_pc + 7) % 12 + 1
    return f"{number}{'B' if mode == 'major' else 'A'}"


def parse_key(text: str) -> str | None:
    """A Camelot code from '8A', 'A minor', 'Am', 'C#', 'Db major' (a bare tonic is major); None if unreadable."""
    found = _CODE_RE.fullmatch(text)
    if found:
        return f"{int(found.group(1))}{found.group(2).upper()}"
    found = _KEY_RE.fullmatch(text)
    if not found:
        return None
    tonic = found.group(1).upper() + {"♯": "#", "♭": "b"}.get(found.group(2), found.group(2))
    mode = (found.group(3) or "major").lower()
    return camelot_code(tonic=tonic, mode="minor" if mode in ("minor", "min", "m") else "major")


def relative(code: str) -> str:
    return code[:-1] + ("A" if code.endswith("B") else "B")


def compatible(code: str) -> list[str]:
    """The key itself, its relative, and a fifth either way (same letter)."""
    number, letter = int(code[:-1]), code[-1]
    up, down = number % 12 + 1, (number - 2) % 12 + 1
    return [code, relative(code), f"{up}{letter}", f"{down}{letter}"]


def keys_for(code: str, relation: str) -> list[str]:
    """The codes a filter `key=<code>&key_relation=<relation>` accepts."""
    if relation == "relative":
        return [code, relative(code)]
    if relation == "compatible":
        return compatible(code)
    return [code]


def _pitch_class(tonic: str) -> int | None:
    name = tonic.strip().upper()
    if len(name) == 2:
        name = _FLATS.get(name, name)
    return PITCH_NAMES.index(name) if name in PITCH_NAMES else None


def tempo_match(reference_bpm: float, other_bpm: float, *,
                percent: float = MIX_TEMPO_PERCENT) -> tuple[str, float] | None:
    """Whether two tempi mix: ("exact" | "double" | "half", the change in percent `other` needs to reach
    `reference`, its tempo doubled or halved first), or None. They mix when the faster of the two, slowed by
    at most `percent`, meets the slower (either deck can move, so the answer is the same both ways round: measured
    from the reference alone, 134.9 and 127.2 BPM mixed one way and not the other). "double": `other` played at
    double time matches (it is about half as fast)."""
    for name, factor in (("exact", 1.0), ("double", 2.0), ("half", 0.5)):
        other = other_bpm * factor
        # rounded: 108 against 100 is 8.000000000000007, and a user's 8 means 8
        slowed = round(100.0 * (1.0 - min(other, reference_bpm) / max(other, reference_bpm)), 2)
        if slowed <= percent:
            # what `other`'s pitch fader must do: 119.94 BPM reaching 114.85 is -4.24 % (it had read +4.43, the
            # change the reference needed, and sent a stranger's deck the wrong way)
            return name, round(100.0 * (reference_bpm / other - 1.0), 2)
    return None
