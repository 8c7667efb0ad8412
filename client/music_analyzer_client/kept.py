"""What a text job stopped midway kept: a generation or a library answer canceled, or stopped by the server's time
limit (LONGEST_JOB_SECONDS), fails with its text so far as its `result` (`finish_reason` "canceled" or "time_limit",
`partial` true), which the client's error carries in `details["result"]`. The command line shows it, marked, and
exits 1: a time-limited one had been shown as its error alone, minutes of text dropped."""

from __future__ import annotations

from typing import Any

from .errors import MusicAnalyzerError

# the job's error code -> how the command line says why the text is partial
STOPPED_BY = {"canceled": "the job was canceled",
              "time_limit_exceeded": "stopped by the server's time limit (LONGEST_JOB_SECONDS): partial answer"}


def kept_result(e: MusicAnalyzerError, text_key: str) -> dict[str, Any] | None:
    """The partial result `e` carries when its job was stopped midway with a `text_key` ("response", "answer"),
    else None (any other failure is reported as an error)."""
    partial = (e.details or {}).get("result")
    if e.code not in STOPPED_BY or not isinstance(partial, dict) or text_key not in partial:
        return None
    return partial


def stopped_note(label: str, e: MusicAnalyzerError) -> str:
    """The warning above the kept text: "generate: stopped by the server's time limit ...; the text written before
    it follows"."""
    return f"{label}: {STOPPED_BY.get(e.code, e.code)}; the text written before it follows"


def with_error(partial: dict[str, Any], e: MusicAnalyzerError) -> dict[str, Any]:
    """--json: the kept result with the job's `error` beside it (code, message, job_id), so a script sees both that
    it failed and what it wrote."""
    return {**partial, "error": {"code": e.code, "message": e.message, "job_id": (e.details or {}).get("job_id")}}
