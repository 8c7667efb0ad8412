"""Result files put where a session's jobs write them, for the browser tests that need a track's results without
running its analyses (tests/test_web_adverse.py, tests/test_web_access.py)."""

from __future__ import annotations

import json

from tests.conftest import USER


def put_results(settings, session_id: str, name: str, pitch: dict | None = None, stems: tuple[str, ...] = ()) -> None:
    """Result files of `name` where its jobs write them (pitch_<stem>.json, <stem kind>_<stem>.wav), as if its
    analyses had run: the page reads them from the session's results."""
    from tests.test_api_sessions import user_session_dir

    stem = name.rsplit(".", 1)[0]
    folder = user_session_dir(settings, USER, session_id)
    results = folder / "results"
    results.mkdir(exist_ok=True)
    if pitch is not None:
        (results / f"pitch_{stem}.json").write_text(json.dumps({"filename": name, **pitch}))
    for kind in stems:
        (results / f"{kind}_{stem}.wav").write_bytes((folder / "uploads" / name).read_bytes())


def pitch_of(seconds: float, bpm: float = 110.0, *, chords: bool = True) -> dict:
    """A pitch result of a 4/4 track `seconds` long at `bpm`: key, tempo, beats, bars, a chord per bar."""
    beat = 60.0 / bpm
    beats = [round(i * beat, 3) for i in range(int(seconds / beat))]
    bars = beats[::4]
    return {
        "duration_seconds": seconds, "warnings": [], "tuning_cents": 0.0, "tempo_bpm": bpm, "tempo_confidence": 0.9,
        "key": {"tonic": "C", "mode": "major", "label": "C major", "confidence": 0.9},
        "beat_times": beats, "downbeat_times": bars, "time_signature": "4/4", "beats_per_bar": 4,
        "chords": [{"start": b, "end": b + 4 * beat, "label": "C:maj"} for b in bars] if chords else [],
        "melody": {"notes": []},
    }
