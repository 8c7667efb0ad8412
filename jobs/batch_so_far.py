"""What a running batch has finished so far: the job record's `partial` (GET /jobs/<id> `partial_result`).

After each file the runner rewrites it whole (jobs/store.py `file_finished`), so its entries are short: a file's
`filename` and result `files` (a stranger's 30-file pitch batch with whole results: 14 MB rewritten per file). It
is tagged with the attempt that wrote it, and it is what survives a killed attempt: the whole sets it lists are
kept when the attempt's writes are taken back, and the job's end lists them (`finished_in`). The sets of an
earlier attempt that the next one did not redo before it too was stopped stay as well: the record's `kept`, merged
into the end's result (`with_earlier`; a stranger's batch killed twice had left them on disk, listed by no job).
"""

from __future__ import annotations

import json
from typing import Any

VIEW = ("batch", "results", "errors")  # what clients see of it: a batch result's own keys


def finished_entry(result: dict) -> dict:
    """A finished file of a running batch: its name and its result files (the whole result is in its JSON)."""
    return {"filename": result.get("filename"), "files": list(result.get("files") or [])}


def result_files(result: Any) -> list[str]:
    """The files a job's result names: its own `files`, and each of a batch's results' (a batch so far too)."""
    if not isinstance(result, dict):
        return []
    files = list(result.get("files", []))
    for item in result.get("results", []) or []:
        if isinstance(item, dict):
            files += item.get("files", [])
    return files


def partial_json(attempt: int, results: list[dict], errors: list[dict]) -> str:
    """The record's `partial` for attempt `attempt` that has finished `results` (whole) and `errors`."""
    return json.dumps({"attempt": attempt, "batch": True, "results": [finished_entry(r) for r in results],
                       "errors": errors})


def finished_in(job: dict | None, attempt: int | None = None) -> dict | None:
    """What a batch had finished by attempt `attempt` (None: by any) as {"batch", "results", "errors"}, None if no
    file: the last attempt that finished a file says (a later one that finished none had been rewriting those sets
    with the same analysis of the same files, kept as they are: no set is lost or left half)."""
    partial = (job or {}).get("partial")
    if not isinstance(partial, dict) or not partial.get("results") or (
            attempt is not None and int(partial.get("attempt") or 0) > attempt):
        return None
    return {k: partial[k] for k in VIEW}


def with_earlier(finished: dict | None, earlier: dict | None) -> dict | None:
    """A batch's end `finished`, with the files earlier attempts had finished (`earlier`, the record's `kept`) that
    it does not name: their sets are still there, whole. None if neither holds a file."""
    if not earlier or not earlier.get("results"):
        return finished
    if not finished:
        return {k: earlier[k] for k in VIEW}
    named = {e.get("filename") for e in [*finished.get("results", []), *finished.get("errors", [])]}
    return {**finished, **{k: [*finished.get(k, []), *(e for e in earlier.get(k, []) if e.get("filename") not in named)]
                           for k in ("results", "errors")}}
