"""How two tracks relate, computed from their measured analyses: key (same, relative, Camelot neighbours),
tempo (same, half/double time, percent apart), loudness and brightness differences."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#"}
TEMPO_SAME_PERCENT = 4.0  # within this many percent a DJ mixes without noticeable pitch change


def camelot(tonic: str | None, mode: str | None) -> str | None:
    """The Camelot wheel code of a key ("A minor" -> "8A", "C major" -> "8B"), or None."""
    if tonic is None or mode not in ("major", "minor"):
        return None
    pc = PITCH_CLASSES.index(FLATS.get(tonic, tonic))
    # major keys: C = 8B, each fifth up one number; a minor key shares its relative major's number
    major_pc = pc if mode == "major" else (pc + 3) % 12
    number = (7 * major_pc) % 12 + 8
    number = number - 12 if number > 12 else number
    return f"{number}{'B' if mode == 'major' else 'A'}"


def key_relation(a: str | None, b: str | None) -> str:
    """same, relative (same number), neighbours (one step on the wheel, same letter), or distant."""
    if a is None or b is None:
        return "unknown"
    if a == b:
        return "same key"
    (na, la), (nb, lb) = (int(a[:-1]), a[-1]), (int(b[:-1]), b[-1])
    if na == nb:
        return "relative keys"
    if la == lb and (na - nb) % 12 in (1, 11):
        return "neighbours on the Camelot wheel (mixable)"
    return "distant keys"


def tempo_relation(a: float | None, b: float | None) -> dict[str, Any]:
    if not a or not b:
        return {"relation": "unknown"}
    percent = 100.0 * abs(a - b) / max(a, b)
    for ratio, name in ((1.0, "same tempo"), (2.0, "double/half time")):
        off = 100.0 * abs(max(a, b) / min(a, b) - ratio) / ratio
        if off <= TEMPO_SAME_PERCENT:
            return {"relation": name, "percent_apart": round(percent, 1)}
    return {"relation": "different tempi", "percent_apart": round(percent, 1)}


def track_facts(name: str, pitch: Mapping[str, Any] | None, features: Mapping[str, Any] | None) -> dict[str, Any]:
    key = (pitch or {}).get("key") or {}
    af = (features or {}).get("audio_features") or features or {}
    return {"file": name, "key": key.get("label"), "camelot": camelot(key.get("tonic"), key.get("mode")),
            "tempo_bpm": (pitch or {}).get("tempo_bpm"), "metre": (pitch or {}).get("time_signature"),
            "loudness_lufs": af.get("loudness_lufs"), "brightness_hz": af.get("spectral_centroid_hz"),
            "duration_seconds": (pitch or features or {}).get("duration_seconds")}


def pair_relations(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = {"a": a["file"], "b": b["file"], "key": key_relation(a["camelot"], b["camelot"]),
           "tempo": tempo_relation(a["tempo_bpm"], b["tempo_bpm"])}
    if a["loudness_lufs"] is not None and b["loudness_lufs"] is not None:
        out["loudness_difference_lu"] = round(float(a["loudness_lufs"]) - float(b["loudness_lufs"]), 1)
    if a["brightness_hz"] and b["brightness_hz"]:
        out["brightness_ratio"] = round(float(a["brightness_hz"]) / float(b["brightness_hz"]), 2)
    out["mixable"] = out["key"] in ("same key", "relative keys", "neighbours on the Camelot wheel (mixable)") and \
        out["tempo"]["relation"] in ("same tempo", "double/half time")
    return out
