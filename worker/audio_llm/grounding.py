"""What a session already measured about a track, as text an LLM prompt can quote.

Every LLM prompt about a track is grounded in the track's own results rather than left to guess: the
music analysis (key, tempo, metre, tuning, chords, key changes and its warnings) from pitch_<stem>.json
and a Whisper transcript from transcript_<stem>.json, when the session has them. A text model once
invented "melancholic timpani" for a D-major rock song whose analysis was on disk.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.files import safe_name
from worker.transcription.pipeline import DOUBTS

from .files import PITCH_PATTERN, read_transcript
from .prompts import truncate_transcript

log = logging.getLogger(__name__)

TOP_CHORDS = 6  # chord labels listed with their share of the time
PROGRESSION_HEAD = 12  # chord changes quoted from the start
MAX_KEY_CHANGES = 6


@dataclass(frozen=True)
class Grounding:
    """The session's results for one track (any of them may be missing)."""

    pitch: Mapping[str, Any] | None = None
    pitch_source: str | None = None
    transcript: str | None = None
    transcript_source: str | None = None
    transcript_doubts: tuple[str, ...] = ()  # Whisper's doubts of that transcript (made up, uncertain)
    # {"speech_share", "speech_measured_seconds"} measured by the job itself where no pitch result holds a share
    # (worker/music/speech_share.py); the prompt's music lines still come from `pitch` alone
    measured_speech: Mapping[str, Any] | None = None

    @property
    def speech(self) -> Mapping[str, Any] | None:
        """What says how much of the recording is speech: the pitch result, else the job's own measure."""
        return self.measured_speech if self.measured_speech is not None else self.pitch

    @property
    def sources(self) -> list[str]:
        return [s for s in (self.pitch_source, self.transcript_source) if s]


def find_grounding(results_dir: Path, stem: str) -> Grounding:
    """The music analysis and the transcript of `stem` in `results_dir`; unreadable files are skipped."""
    pitch, pitch_source = None, None
    path = Path(results_dir) / safe_name(PITCH_PATTERN.format(stem=stem))
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, Mapping):
                pitch, pitch_source = loaded, path.name
        except (OSError, ValueError) as e:
            log.warning("ignoring unreadable music analysis %s: %s", path.name, e)
    transcript = read_transcript(results_dir, stem)
    return Grounding(pitch=pitch, pitch_source=pitch_source,
                     transcript=transcript[1] if transcript else None,
                     transcript_source=transcript[0] if transcript else None,
                     transcript_doubts=tuple(w for w in (transcript[2] if transcript else []) if w.startswith(DOUBTS)))


def measure_speech_where_unsaid(grounding: Grounding, *, audio_path: Path,
                                settings: Mapping[str, Any] | None = None) -> Grounding:
    """`grounding` with the job's own speech measure where its pitch result holds no speech_share (or there is none),
    as the lyrics and compare jobs take it: an audiobook analysed before any pitch job had been asked for "the
    music's mood, instrumentation, structure" and its answer about music passed unwarned. `settings`: the worker's,
    whose SPEECH_MEASURE_SECONDS bounds the seconds measured (the file's first ones)."""
    from worker.music.speech_share import MEASURE_SECONDS, with_speech_share  # the music stages: when a job runs

    span = float((settings or {}).get("SPEECH_MEASURE_SECONDS") or MEASURE_SECONDS)
    measured = with_speech_share(grounding.pitch, audio_path=audio_path, max_seconds=span)
    return grounding if measured is grounding.pitch else dataclasses.replace(grounding, measured_speech=measured)


def describe_music(pitch: Mapping[str, Any]) -> str:
    """The music analysis as prompt lines; what the analysis did not report is left out, not guessed."""
    lines = ["Measured by this service's music analysis (state these as measured; do not contradict them):"]
    lines += _key_lines(pitch)
    if pitch.get("tempo_bpm"):
        conf = f" (confidence {pitch['tempo_confidence']:.2f})" if pitch.get("tempo_confidence") is not None else ""
        metre = f", metre {pitch['time_signature']}" if pitch.get("time_signature") else ""
        lines.append(f"- tempo: {float(pitch['tempo_bpm']):.0f} BPM{conf}{metre}")
    if pitch.get("tuning_cents") is not None and not pitch.get("tuning_note"):  # a 0 beside its note: none read
        lines.append(f"- tuning: {float(pitch['tuning_cents']):+.0f} cents from A440")
    lines += _chord_lines(pitch.get("chords") or [])
    for warning in pitch.get("warnings") or []:
        lines.append(f"- caution: {warning}")
    return "\n".join(lines) if len(lines) > 1 else ""


def _key_lines(pitch: Mapping[str, Any]) -> list[str]:
    key = pitch.get("key")
    if not isinstance(key, Mapping):
        return []
    conf = f" (confidence {float(key['confidence']):.2f})" if key.get("confidence") is not None else ""
    lines = [f"- key: {key.get('label') or 'no clear key'}{conf}"]
    changes = [c for c in key.get("changes") or [] if isinstance(c, Mapping)][:MAX_KEY_CHANGES]
    if changes:
        lines.append("- key changes: " + ", ".join(f"{_clock(c.get('time', 0))} {c.get('label')}" for c in changes))
    return lines


def _chord_lines(chords: Sequence[Mapping[str, Any]]) -> list[str]:
    spans = [(str(c.get("label")), float(c.get("end", 0)) - float(c.get("start", 0))) for c in chords
             if isinstance(c, Mapping) and c.get("label") not in (None, "N")]
    total = sum(d for _, d in spans)
    if not spans or total <= 0:
        return []
    share: dict[str, float] = {}
    for label, seconds in spans:
        share[label] = share.get(label, 0.0) + seconds
    ranked = sorted(share.items(), key=lambda item: -item[1])[:TOP_CHORDS]
    top = ", ".join(f"{label} {100 * s / total:.0f}%" for label, s in ranked)
    head = [label for i, (label, _) in enumerate(spans) if i == 0 or label != spans[i - 1][0]][:PROGRESSION_HEAD]
    return [f"- chords by share of the time: {top}", f"- chord progression from the start: {' '.join(head)}"]


def _clock(seconds: Any) -> str:
    s = max(0, int(float(seconds or 0)))
    return f"{s // 60}:{s % 60:02d}"


def heard_transcript(grounding: Grounding | None, audio_input: bool) -> str:
    """A model that hears the audio still gets the session's transcript, as a hint to check (text-only
    models read it in full in their own prompt section)."""
    if grounding is None or not grounding.transcript or not audio_input:
        return ""
    text, cut = truncate_transcript(grounding.transcript)
    return f"Automatic transcript by Whisper{' (cut short)' if cut else ''} (may contain errors):\n{text}"
