"""How two tracks relate, computed from their measured analyses: key (same, relative, Camelot neighbours),
tempo (same, half/double time, percent apart), loudness and brightness differences. Keys and tempi are matched
as the library's mix search matches them (worker/camelot.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.camelot import MIX_TEMPO_PERCENT, camelot_code, tempo_match


def camelot(tonic: str | None, mode: str | None) -> str | None:
    """The Camelot wheel code of a key ("A minor" -> "8A", "C major" -> "8B"), or None."""
    return None if tonic is None or mode is None else camelot_code(tonic=tonic, mode=mode)


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


def tempo_relation(a: float | None, b: float | None, *, percent: float = MIX_TEMPO_PERCENT) -> dict[str, Any]:
    """Same tempo or double/half time when `b` reaches `a`'s tempo within `percent` (worker/camelot.py
    `tempo_match`, as the library's mix search decides), with the change it needs; else different tempi."""
    if not a or not b:
        return {"relation": "unknown"}
    apart = round(100.0 * abs(a - b) / max(a, b), 1)
    match = tempo_match(float(a), float(b), percent=percent)
    if match is None:
        return {"relation": "different tempi", "percent_apart": apart}
    return {"relation": "same tempo" if match[0] == "exact" else "double/half time", "percent_apart": apart,
            "change_percent": match[1]}


def track_facts(name: str, pitch: Mapping[str, Any] | None, features: Mapping[str, Any] | None) -> dict[str, Any]:
    key = (pitch or {}).get("key") or {}
    af = (features or {}).get("audio_features") or features or {}
    return {"file": name, "key": key.get("label"), "camelot": camelot(key.get("tonic"), key.get("mode")),
            "tempo_bpm": (pitch or {}).get("tempo_bpm"), "metre": (pitch or {}).get("time_signature"),
            "loudness_lufs": af.get("loudness_lufs"), "brightness_hz": af.get("spectral_centroid_hz"),
            "duration_seconds": (pitch or features or {}).get("duration_seconds")}


def pair_relations(a: Mapping[str, Any], b: Mapping[str, Any], *,
                   tempo_percent: float = MIX_TEMPO_PERCENT) -> dict[str, Any]:
    out = {"a": a["file"], "b": b["file"], "key": key_relation(a["camelot"], b["camelot"]),
           "tempo": tempo_relation(a["tempo_bpm"], b["tempo_bpm"], percent=tempo_percent)}
    if a["loudness_lufs"] is not None and b["loudness_lufs"] is not None:
        out["loudness_difference_lu"] = round(float(a["loudness_lufs"]) - float(b["loudness_lufs"]), 1)
    if a["brightness_hz"] and b["brightness_hz"]:
        out["brightness_ratio"] = round(float(a["brightness_hz"]) / float(b["brightness_hz"]), 2)
    out["mixable"] = mixable(key=out["key"], tempo=out["tempo"]["relation"])
    return out


MIXING_KEYS = ("same key", "relative keys", "neighbours on the Camelot wheel (mixable)")
MIXING_TEMPI = ("same tempo", "double/half time")


def mixable(*, key: str, tempo: str) -> bool | None:
    """True where the keys and the tempi both mix; False where either is known not to; None where neither
    rules the pair out but one is unknown (a track without a key or a tempo: compare had said `false`, which
    reads as "measured and not mixable")."""
    if (key != "unknown" and key not in MIXING_KEYS) or (tempo != "unknown" and tempo not in MIXING_TEMPI):
        return False
    if key == "unknown" or tempo == "unknown":
        return None
    return True
