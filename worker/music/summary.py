"""The readable .txt summary of a music analysis result."""

from __future__ import annotations

from .key_timeline import opening_disagreement
from .keymodel import OPENING_SECONDS
from .tempo_changes import away_share

MAX_CHORD_LINES = 400
MAX_NOTE_LINES = 400
MAX_SPEECH_SPANS = 20  # speech stretches listed on the one line (all are in the JSON)


def format_summary(result: dict) -> str:
    lines = [f"Music analysis of {result.get('filename', '?')} ({result['duration_seconds']:.1f} s)", *_runs(result),
             ""]
    for w in result.get("warnings", []):
        lines.append(f"Warning: {w}")
    if result.get("warnings"):
        lines.append("")
    key = result.get("key")
    if key is not None:
        if key["tonic"] is None:
            lines.append(f"Key: none detected (confidence {key['confidence']:.2f}) - {key.get('note', '')}")
        else:
            lines.append(f"Key: {key['label']} (confidence {key['confidence']:.2f})")
        # the runners-up on the scale of the key's own score (the key model's probability), which the confidence
        # also weighs by how tonal the audio is: the report showed runners-up 0.00 under "confidence 0.81" alone
        scored = [f"score {key['score']:.2f} (the key model's; the confidence also weighs how tonal and how long "
                  f"the audio is)"] if key["tonic"] is not None and key.get("score") is not None else []
        if key.get("candidates"):  # with no key named, the nearest ones were printed as its "runners-up"
            name = "runners-up" if key["tonic"] is not None else "nearest keys, none clear enough"
            scored.append(f"{name}: " + ", ".join(f"{c['label']} {c['score']:.2f}" for c in key["candidates"]))
        if scored:
            lines.append("  " + "; ".join(scored))
        if key.get("opening"):
            clause = opening_disagreement(key)
            lines.append(f"  the first {OPENING_SECONDS:.0f} s alone read {key['opening']['label']} "
                         f"({key['opening'].get('confidence', key['opening']['score']):.2f}, the key model)"
                         + (f"; {clause} (the warning quotes the key model, the lines below are the timeline)"
                            if clause else ""))
        changes = key.get("changes", [])
        if changes:
            lines.append(f"  starts in {changes[0]['label']}")
        for ch in changes[1:]:
            lines.append(f"  modulates to {ch['label']} at {ch['time']:.1f} s")
    if "tuning_cents" in result and result.get("tuning_note"):
        lines.append(f"Tuning: none ({result['tuning_note']})")
    elif "tuning_cents" in result:
        lines.append(f"Tuning: {result['tuning_cents']:+.1f} cents from A440 "
                     f"(A = {440 * 2 ** (result['tuning_cents'] / 1200):.1f} Hz)")
    if "tempo_bpm" in result:
        tempo = result["tempo_bpm"]
        conf = result.get("tempo_confidence", 0.0)
        lines.append(f"Tempo: {tempo:.1f} BPM (confidence {conf:.2f}){_kept(result, tempo)}" if tempo
                     else "Tempo: none detected")
    if "beat_times" in result:
        lines.append(f"Time signature: {result.get('time_signature') or 'unknown'}; "
                     f"{len(result['beat_times'])} beats, {len(result['downbeat_times'])} bars")
    if result.get("speech_segments"):
        lines.append(f"Speech: {100 * result['speech_share']:.0f}% of the audio, at "
                     + ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in result["speech_segments"][:MAX_SPEECH_SPANS])
                     + (" ..." if len(result["speech_segments"]) > MAX_SPEECH_SPANS else ""))
    if "chords" in result:
        lines += ["", "Chords (start-end s: chord):"]
        for ch in result["chords"][:MAX_CHORD_LINES]:
            lines.append(f"  {ch['start']:8.2f}-{ch['end']:8.2f}  {ch['label']}")
        if len(result["chords"]) > MAX_CHORD_LINES:
            lines.append(f"  ... {len(result['chords']) - MAX_CHORD_LINES} more in the JSON")
    mel = result.get("melody")
    if mel is not None:
        lines += ["", f"Melody: {len(mel['notes'])} notes (onset-offset s: note)"]
        for n in mel["notes"][:MAX_NOTE_LINES]:
            lines.append(f"  {n['onset']:8.2f}-{n['offset']:8.2f}  {n['name']:4s} (MIDI {n['midi']})")
        if len(mel["notes"]) > MAX_NOTE_LINES:
            lines.append(f"  ... {len(mel['notes']) - MAX_NOTE_LINES} more in the JSON")
    return "\n".join(lines) + "\n"


def _runs(result: dict) -> list[str]:
    """Which run computed which stages, where the result merges several (worker/music/merged.py)."""
    runs: dict[tuple, list[str]] = {}
    for stage, source in (result.get("stage_sources") or {}).items():
        source = source if isinstance(source, dict) else {}
        runs.setdefault((source.get("job_id"), source.get("analysed_at")), []).append(stage)
    if len(runs) < 2:
        return []
    return ["Merged from runs of this upload: " + "; ".join(
        f"{', '.join(stages)} from job {job or '(an earlier version)'}" + (f" ({at})" if at else "")
        for (job, at), stages in runs.items())]


def _kept(result: dict, tempo: float) -> str:
    """Where the beats leave the tempo given, how much of their span keeps it (the warning names the rest)."""
    stretches = result.get("tempo_changes") or []
    if not stretches:
        return ""
    return f"; the beats keep it over {1.0 - away_share(stretches, tempo):.0%} of their span (see \"tempo changes\")"
