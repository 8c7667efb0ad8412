"""One exception hierarchy for the whole service.

Pipelines raise these; the task layer records `code` and `message` in the job;
routes map `http_status` to the response. Nothing below the routes knows HTTP,
the status is only a hint carried with the error kind.
"""

from __future__ import annotations

import errno

ECHO_CHARS = 80  # of a value a request sent, quoted back in an error message


def echo(value: object) -> str:
    """`value` quoted for an error message, cut to ECHO_CHARS: a 404 had echoed a 3,000-character job id whole."""
    text = str(value)
    return repr(text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "…")


class MusicAnalyzerError(Exception):
    """Base class: a failure whose reason can be shown to the user."""

    code = "error"
    http_status = 500
    # what a batch job had finished when this error stopped it (a cancel, a full disk, its time limit): the
    # results of the files it completed, kept with their files (jobs/runner.py)
    finished: dict | None = None

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}
        self.headers: dict[str, str] = {}  # sent with the HTTP answer (a 429's or a 409's Retry-After)

    def to_dict(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidRequestError(MusicAnalyzerError):
    """An option or argument is out of range or of the wrong type."""

    code = "invalid_request"
    http_status = 400


class ContentTypeError(InvalidRequestError):
    """The request body is not of the media type the route takes (JSON options, multipart uploads)."""

    code = "unsupported_content_type"
    http_status = 415


class PayloadTooLargeError(InvalidRequestError):
    code = "payload_too_large"
    http_status = 413


class NotFoundError(MusicAnalyzerError):
    code = "not_found"
    http_status = 404


class ConflictError(MusicAnalyzerError):
    code = "conflict"
    http_status = 409


class AudioError(MusicAnalyzerError):
    """The audio cannot be used (undecodable, empty, too long...)."""

    code = "invalid_audio"
    http_status = 422


class UnsupportedMediaError(AudioError):
    """Not a decodable audio stream of an accepted type."""

    code = "unsupported_media_type"
    http_status = 415


class AudioTooLongError(AudioError):
    code = "audio_too_long"
    http_status = 422


class ModelError(MusicAnalyzerError):
    code = "model_error"
    http_status = 500


class ModelNotAvailableError(ModelError):
    """The weights are not present locally."""

    code = "model_not_downloaded"
    http_status = 409


class OutOfMemoryError(ModelError):
    code = "out_of_memory"
    http_status = 507


class InsufficientStorageError(MusicAnalyzerError):
    """The data directory's filesystem is full (or the user's quota is): nothing was stored."""

    code = "insufficient_storage"
    http_status = 507


class StorageQuotaError(InsufficientStorageError):
    """The owner's sessions already hold USER_STORAGE_MB, or the upload would take them past it: nothing was stored."""

    code = "storage_quota_exceeded"


# ENOSPC: the filesystem is full; EDQUOT: the account's quota is. Both pass once space is freed.
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
DISK_FULL_MESSAGE = "the server's disk is full: nothing was stored; retry once space has been freed"
SQLITE_FULL = 13  # sqlite3.SQLITE_FULL: "database or disk is full"
PG_DISK_FULL = "53100"  # PostgreSQL's SQLSTATE disk_full


def out_of_space(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from or while handling, is a full disk or quota.

    Libraries often wrap the OSError (soundfile, matplotlib, PIL...), so the chain is walked.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
            return True
        # the library's databases say it their own way (a stranger's reindex on a full disk had failed
        # internal_error with sqlite3's "database or disk is full"): SQLite's SQLITE_FULL, PostgreSQL's 53100
        if getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL or getattr(exc, "sqlstate", None) == PG_DISK_FULL:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def as_storage_error(exc: BaseException) -> InsufficientStorageError | None:
    """The one mapping of a full disk to the service's error (the OSError's text, with its path, is dropped)."""
    return InsufficientStorageError(DISK_FULL_MESSAGE) if out_of_space(exc) else None


class ContextLengthError(ModelError):
    code = "context_length_exceeded"
    http_status = 422


class JobStopped(MusicAnalyzerError):
    """A job stopped at a progress checkpoint before its end: canceled (JobCanceled), or past its time limit
    (JobTimeLimitError). Both keep what a text generation had written, as a result marked partial whose
    `finish_reason` is the stop's `stopped_as` ("canceled", "time_limit"). `finished` (as for every error that
    stops a batch): what it had done before. `generated`: what a text generation had written when it stopped
    (worker/llm/generate.py), for the job that asked for the text. `partial`: what a pipeline of several generation
    passes had done when it stopped (worker/audio_llm/processor.py: its passes so far)."""

    stopped_as = "stopped"
    generated: dict | None = None
    partial: object = None


class JobTimeLimitError(JobStopped):
    """The job ran longer than LONGEST_JOB_SECONDS: stopped at its next progress report (where a text generation
    keeps what it had written, as a cancel does: `finish_reason` time_limit), or, when it reports nothing for
    JOB_STOP_GRACE_SECONDS more, by its worker's watchdog (jobs/overdue.py: its process is killed, nothing kept)."""

    code = "time_limit_exceeded"
    http_status = 500
    stopped_as = "time_limit"

    @classmethod
    def past(cls, limit_seconds: float, *, stuck: bool = False) -> JobTimeLimitError:
        """The error of a job past `limit_seconds`: stopped at a progress report, or (`stuck`) by the watchdog."""
        how = "reported no progress since; its process was stopped" if stuck else "was stopped"
        return cls(f"the job ran longer than the server's limit of {limit_seconds:g} s (LONGEST_JOB_SECONDS) and {how}")


class JobCanceled(JobStopped):
    """Raised at a progress checkpoint once the job's cancel flag is set (what it had written: JobStopped)."""

    code = "canceled"
    http_status = 409
    stopped_as = "canceled"


class JobSuperseded(Exception):  # noqa: N818 - not an error of the job: another attempt of it runs
    """Raised at a progress checkpoint of an attempt whose job is no longer its own: the record was re-queued (its
    worker's heartbeat stopped while this process ran on: a paused or stopped worker, SIGSTOP, a VM paused) and another
    attempt runs it, or its end was recorded by another process. This attempt stops without writing the record."""
