"""Where the audio-LLM job's files are: its own result names, and Whisper transcripts it may read."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from worker.files import safe_name

log = logging.getLogger(__name__)

TRANSCRIPT_PATTERNS = ("transcript_{stem}.json", "whisper_{stem}.json")  # Whisper job results, in that order
PITCH_PATTERN = "pitch_{stem}.json"  # the music analysis the LLM jobs are grounded in (grounding.py)
# what the LLM jobs read of their session besides the upload: a result cache entry is of these as they were
GROUNDING_PATTERNS = (PITCH_PATTERN, *TRANSCRIPT_PATTERNS)


def result_names(model_type: str, task: str, stem: str) -> tuple[str, str]:
    """(json, txt) file names. The stem is always part of them: a batch analyses every upload of a session
    into the same results folder, and a single-file job must not overwrite another file's analysis."""
    base = f"analysis_{model_type}_{task}_{stem}"
    return safe_name(f"{base}.json"), safe_name(f"{base}.txt")


PARTIAL = "partial_"  # the kind a stopped analysis's files start with (worker/audio_llm/result.py)
# how a stopped job's partial .txt begins, by its `finish_reason`: (its first word, what it was written before)
STOP_NOTES = {"canceled": ("CANCELED", "the cancel"), "time_limit": ("TIME LIMIT", "the job's time limit")}


def partial_note(what: str, reason: str) -> str:
    """The first line of a stopped job's partial text (`what`: "lyrics analysis", "comparison"), stopped for
    `reason` (its result's `finish_reason`: canceled, time_limit)."""
    mark, before = STOP_NOTES.get(reason, STOP_NOTES["canceled"])
    return f"{mark}: a partial {what} (finish_reason {reason}): the text written before {before}\n\n"


def partial_names(model_type: str, task: str, stem: str) -> tuple[str, str]:
    """(json, txt) names of a stopped (canceled, time-limited) analysis's partial result,
    `partial_analysis_<model>_<task>_<stem>.json|.txt`: beside a finished one of the same file, never over it, and no
    upload's stem makes a finished one's name this (a mark after the stem would: `x.partial.wav`'s own analysis)."""
    json_name, txt_name = result_names(model_type, task, stem)
    return safe_name(PARTIAL + json_name), safe_name(PARTIAL + txt_name)


def find_transcript(results_dir: Path, stem: str) -> tuple[str, str] | None:
    """(file name, text) of a Whisper result for `stem` in results_dir, or None. Reads "text", else the
    segments' texts; an unreadable file is skipped (logged), never fatal to the analysis."""
    found = read_transcript(results_dir, stem)
    return (found[0], found[1]) if found else None


def transcript_file(results_dir: Path, stem: str) -> str | None:
    """The name of a Whisper result for `stem` in results_dir, words or none (find_transcript: one with words)."""
    return next((name for name in (safe_name(p.format(stem=stem)) for p in TRANSCRIPT_PATTERNS)
                 if (Path(results_dir) / name).is_file()), None)


def read_transcript(results_dir: Path, stem: str) -> tuple[str, str, list[str]] | None:
    """find_transcript's (file name, text) and the result's own warnings (Whisper's doubts among them)."""
    for pattern in TRANSCRIPT_PATTERNS:
        path = Path(results_dir) / safe_name(pattern.format(stem=stem))
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            log.warning("ignoring unreadable transcript %s: %s", path.name, e)
            continue
        text = data.get("text") if isinstance(data, Mapping) else None
        if not text and isinstance(data, Mapping):
            text = " ".join(str(s.get("text", "")).strip() for s in data.get("segments") or []
                            if isinstance(s, Mapping))
        if text and text.strip():
            warnings = data.get("warnings") if isinstance(data, Mapping) else None
            return path.name, text.strip(), [str(w) for w in warnings or [] if isinstance(w, str)]
    return None
