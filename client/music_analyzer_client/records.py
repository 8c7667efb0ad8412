"""The shapes of the server's JSON answers, as typed dictionaries (the README's HTTP API table).

Only the keys a client reads are declared; the server may add others, and they are kept.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

JobState = Literal["queued", "running", "succeeded", "failed", "canceled"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})
JOB_TYPES = ("features", "pitch", "demucs", "whisper", "gemma_3n", "musicgen")


class ErrorBody(TypedDict, total=False):
    code: str
    message: str
    details: dict[str, Any]


class Job(TypedDict, total=False):
    """GET /jobs/<id>: `result` and `files` once succeeded, `error` once failed."""

    job_id: str
    owner: str | None
    session_id: str | None
    type: str  # the route's name: a REPET separation is "demucs"
    method: str | None  # what it ran ("repet", "whisper tiny.en", "smollm2-135m"); servers before it do not send it
    state: JobState
    progress: float
    stage: str
    created_at: str | None
    started_at: str | None  # the current (last) attempt's start
    first_started_at: str | None  # the first attempt's (servers before it was added do not send it)
    finished_at: str | None
    queue: str | None
    attempts: int
    lost_attempts: list[dict[str, Any]]  # {attempt, started_at, lost_at, reason}: attempts a dead worker ended
    request_id: str | None
    input_files: list[str]  # the uploads it reads (servers before it was added do not send it)
    result: dict[str, Any]
    files: list[str]
    error: ErrorBody
    partial_result: dict[str, Any]  # a running batch's files finished so far
    # while a text generation runs: {phase, prompt_tokens, tokens_generated, max_new_tokens, tokens_per_second,
    # seconds_left (up to: the rest of the budget at that rate), seconds; the prompt's layers_read, layers and
    # prompt_seconds_left while it is read} (servers before it do not send it)
    generation: dict[str, Any]
    canceled_by: str | None  # once canceled: its owner's name, "admin" or "system" (null in older records)
    jobs_ahead: int | None  # while queued: waiting jobs its queue's workers take first (null: unknown)
    # while queued or running: {seconds_left, starts_in (queued), basis: "progress" | "generation" | "history" |
    # None}, estimates in seconds, null without a basis (servers before it do not send it)
    eta: dict[str, Any]
    worker: str | None  # admins only (GET /jobs, /jobs/<id>): the worker that runs or ran it, `cpu@host`


class Upload(TypedDict, total=False):
    """One file of POST /sessions/<id>/files, and an upload of GET /sessions/<id>'s `files`; `name` is the name the
    server gave it (sanitised, unique). `kind` "image" (album art) has width and height instead of the audio's."""

    name: str
    bytes: int
    modified: float
    kind: Literal["audio", "image"]
    format: str
    duration_seconds: float
    sample_rate: int
    channels: int
    frames: int
    width: int
    height: int
    sha256: str  # of the file's bytes (servers before it was added do not send it)


class SessionFile(TypedDict, total=False):
    """A result of GET /sessions/<id> (its uploads are Upload)."""

    name: str
    bytes: int
    modified: float
    upload_stem: str | None  # the stem of the upload it was made from (listed or deleted); None: from no one upload
    partial: bool  # what a canceled job had written (partial_analysis_..., partial_lyrics_...), not a finished result


class SessionSummary(TypedDict, total=False):
    """An entry of GET /sessions."""

    session_id: str
    owner: str | None
    files: int
    results: int
    modified_at: str | None


class Session(TypedDict, total=False):
    """GET /sessions/<id>."""

    session_id: str
    owner: str | None
    files: list[Upload]  # had been SessionFile: a typed script could not read an upload's duration or format
    results: list[SessionFile]
    jobs: list[Job]
    jobs_next_cursor: str | None  # more jobs: jobs(session_id=...) follows them


class JobEvent(TypedDict):
    """One event of a job's stream: `event` is "state", "progress" or "done"; a "done" event's `data` is the
    job's full record, the others' at least `state`, `progress` and `stage`. `id` resumes a stream."""

    event: str
    id: str | None
    data: dict[str, Any]


def is_terminal(job: Job | dict[str, Any]) -> bool:
    return job.get("state") in TERMINAL_STATES
