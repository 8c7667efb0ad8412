"""A pitch run with `include` merged into the earlier result of the same upload, in the session's files.

A run that reports some stages (`{"include": ["melody"]}`) had rewritten pitch_<stem>.json/.txt/.png/.mid with
those stages alone: the full run before it lost its key and tempo, and the library, which reads the JSON, with
it (a stranger's mono8k.wav, D minor at 104.8 BPM, had neither until a full run again). The files now hold the
stages this run computed (replacing the earlier ones) and the earlier result's other stages, when the earlier
result is of the same upload: the same bytes (the upload's SHA-256, which every result now records as
`upload_sha256`; a result written before it had none is taken for the same upload when it was written after
the upload was put in place). A file replaced by other bytes under the same name gets nothing of the earlier one.

`stage_sources` in the JSON says which job computed each stage, and when. The fields shared by stages
(`duration_seconds`, `speech_segments`, `speech_share`) are the newest run's where it has them; the earlier
run's warnings stay unless this run gave one of the same kind (its text up to the first ":"). The job's own
result (its record) stays what it computed, with `merged_with` naming the stages its files kept and their jobs.

Reading the earlier result and writing the merged one happen under a lock on the result's name (`merging`): two
runs of one upload finishing together (two workers, two include lists) had each merged into the same earlier
result, and the second to write dropped the first's stages.
"""

from __future__ import annotations

import fcntl
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .options import STAGES

log = logging.getLogger(__name__)

# the fields each stage reports (worker/music/__init__.py); the first is there whenever the stage is
STAGE_FIELDS = {"key": ("key",), "tuning": ("tuning_cents", "tuning_note"), "chords": ("chords",),
                "tempo": ("tempo_bpm", "tempo_confidence", "tempo_changes"),
                "beats": ("beat_times", "downbeat_times", "time_signature", "beats_per_bar"), "melody": ("melody",)}
SHARED_FIELDS = ("speech_segments", "speech_share")  # with chords, tempo or beats: the newest run's that has them


@dataclass(frozen=True)
class RunSource:
    """Who runs the analysis (a job's id) and of what bytes (the upload's SHA-256): without a digest nothing is
    merged (a direct call, the worker's warm-up), as before."""

    job_id: str | None = None
    upload_sha256: str | None = None


def reported_stages(result: dict[str, Any]) -> list[str]:
    return [s for s in STAGES if STAGE_FIELDS[s][0] in result]


def earlier_result(json_path: Path, audio_path: Path, source: RunSource) -> dict[str, Any] | None:
    """The result in `json_path` when it is of the same upload as `audio_path` (see the module's note), else None."""
    if source.upload_sha256 is None:
        return None
    try:
        earlier = json.loads(json_path.read_text(encoding="utf-8"))
        written_ns, upload_ns = json_path.stat().st_mtime_ns, audio_path.stat().st_mtime_ns
    except (OSError, ValueError):  # none yet, unreadable, not JSON
        return None
    if not isinstance(earlier, dict) or earlier.get("filename") != audio_path.name:
        return None
    recorded = earlier.get("upload_sha256")
    same = recorded == source.upload_sha256 if recorded is not None else written_ns >= upload_ns
    return earlier if same else None


@contextmanager
def merging(json_path: Path, source: RunSource) -> Iterator[None]:
    """Held from reading `json_path`'s earlier result to writing the merged files: an flock on a hidden file beside
    it (`.<name>.lock`, empty), so other runs of the same result, in any process on this disk, wait their turn.
    Without a digest nothing is merged and nothing is locked (a direct call writes no hidden file)."""
    if source.upload_sha256 is None:
        yield
        return
    try:
        lock = open(json_path.with_name(f".{json_path.name}.lock"), "ab")
    except OSError as e:  # no inode left, a read-only folder: the write that follows says so; merge unlocked
        log.warning("no merge lock for %s: %s", json_path.name, e.strerror)
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def kept_stages(earlier: dict[str, Any] | None, include: tuple[str, ...]) -> list[str]:
    """The stages of `earlier` a run reporting `include` would keep in the files."""
    return [] if earlier is None else [s for s in reported_stages(earlier) if s not in include]


def merge(result: dict[str, Any], earlier: dict[str, Any] | None, source: RunSource) -> tuple[dict[str, Any], list]:
    """What the files hold: `result` (this run's, without `files`) with the stages of `earlier` it did not compute,
    `upload_sha256` and `stage_sources`; and the stages kept from `earlier`."""
    ours = reported_stages(result)
    at = datetime.now(tz=UTC).isoformat(timespec="seconds")
    sources: dict[str, Any] = {s: {"job_id": source.job_id, "analysed_at": at} for s in ours}
    kept = kept_stages(earlier, tuple(ours))
    out = dict(result)
    if earlier is not None and kept:
        their_sources = earlier.get("stage_sources")
        their_sources = their_sources if isinstance(their_sources, dict) else {}
        for stage in kept:
            out.update({f: earlier[f] for f in STAGE_FIELDS[stage] if f in earlier})
            sources[stage] = their_sources.get(stage) or {"job_id": None, "analysed_at": None}
        out.update({f: earlier[f] for f in SHARED_FIELDS if f in earlier and f not in result})
        kinds = {_kind(w) for w in result.get("warnings") or []}
        out["warnings"] = list(result.get("warnings") or []) + [
            w for w in earlier.get("warnings") or [] if isinstance(w, str) and _kind(w) not in kinds]
    if source.upload_sha256 is not None:
        out["upload_sha256"] = source.upload_sha256
    if source.job_id is not None or kept:  # a direct call (no job: a script, the warm-up) has no job to name
        out["stage_sources"] = {s: sources[s] for s in STAGES if s in sources}
    return out, kept


def merged_with(held: dict[str, Any], kept: list[str]) -> dict[str, Any]:
    """The job result's note of what its files hold beside what it computed."""
    jobs = sorted({held["stage_sources"][s].get("job_id") or "" for s in kept} - {""})
    return {"stages": kept, "jobs": jobs}


def _kind(warning: str) -> str:
    return warning.split(":", 1)[0]
