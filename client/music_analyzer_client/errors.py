"""The client's exceptions (MusicAnalyzerError and its kinds), and how the command line maps them to an exit code."""

from __future__ import annotations

import re
from typing import Any

import requests

from .records import Job

# Exit codes of the command line (documented in client/README.md): scripts branch on them.
EXIT_OK = 0
EXIT_FAILED = 1  # a job (or a file of a batch) failed, or the server refused the request
EXIT_USAGE = 2  # the command line, or the options it sent, are wrong
EXIT_UNAVAILABLE = 3  # the server cannot be reached or the credentials were refused
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), the shells' convention

# the server is there but cannot serve now: the front's 502 (API restarting) and 504, the API's 503 (queue down)
UNAVAILABLE_STATUSES = (502, 503, 504)


class MusicAnalyzerError(Exception):
    """A request that did not succeed: the server's error `code` and `message`, the HTTP `status` (None when
    the server was never reached), the `request_id` to quote to an operator, and the server's `details`."""

    def __init__(self, message: str, *, code: str = "error", status: int | None = None,
                 request_id: str | None = None, details: dict[str, Any] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id
        self.details = details or {}
        self.retry_after = retry_after  # seconds, from the answer's Retry-After header

    def __str__(self) -> str:
        parts = [self.code] + ([f"HTTP {self.status}"] if self.status is not None else []) \
            + ([f"request {self.request_id}"] if self.request_id else [])
        return f"{self.message} ({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status,
                               "request_id": self.request_id}
        if self.details:
            out["details"] = self.details
        return out

    @property
    def unreachable(self) -> bool:
        """The server never answered (refused, timed out, name unknown)."""
        return self.code == "unreachable"

    @property
    def auth_failed(self) -> bool:
        """The credentials were refused (401), or login attempts are throttled (429 too_many_attempts; another
        429, such as too_many_jobs, is about the request, not the login)."""
        return self.status == 401 or (self.status == 429 and self.code == "too_many_attempts")

    @property
    def server_unavailable(self) -> bool:
        """The server answered that it cannot serve now (502, 503, 504): worth a retry, later."""
        return self.status in UNAVAILABLE_STATUSES

    def exit_code(self) -> int:
        if self.unreachable or self.auth_failed or self.server_unavailable:
            return EXIT_UNAVAILABLE
        if self.status == 400 or self.code == "invalid_url":
            return EXIT_USAGE
        return EXIT_FAILED


class UsageError(MusicAnalyzerError):
    """A command line that cannot work (a missing file, no password given): exit code 2, no request sent."""

    def __init__(self, message: str, *, code: str = "usage") -> None:
        super().__init__(message, code=code)

    def __str__(self) -> str:
        return self.message

    def exit_code(self) -> int:
        return EXIT_USAGE


def error_from(response: requests.Response) -> MusicAnalyzerError:
    """The server's error envelope {"error": {"code", "message"}} as an exception (any other body: its status)."""
    rid = response.headers.get("X-Request-ID")
    retry_after = _seconds(response.headers.get("Retry-After"))
    try:
        body = response.json()
        err = body["error"]
        return MusicAnalyzerError(str(err["message"]), code=str(err.get("code", "error")),
                                  status=response.status_code, request_id=rid, details=_details(body),
                                  retry_after=retry_after)
    except (ValueError, KeyError, TypeError):
        reason = response.reason or "error"
        return MusicAnalyzerError(f"the server answered {response.status_code} {reason}", code="http_error",
                                  status=response.status_code, request_id=rid, retry_after=retry_after)


def _details(body: dict[str, Any]) -> Any:
    """The error's `details`, with the failed job's `job_id` and kept `result` beside them where the answer has
    them: a command route's failure within its `wait` (generate, library ask: a job stopped by the time limit or
    canceled keeps its text so far) holds them beside `error`, and they had been dropped, where the same job
    followed after a 202 raised with them (job_error)."""
    details = body["error"].get("details")
    kept = {k: body[k] for k in ("job_id", "result") if body.get(k)}
    if not kept:
        return details  # as the server gave them
    return {**(details if isinstance(details, dict) else {}), **kept}


def _seconds(header: str | None) -> float | None:
    """Retry-After in seconds (its HTTP-date form is not used by this server: read as absent)."""
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


class JobFailed(MusicAnalyzerError):
    """A job that ended failed or canceled: `code` is the worker's error code ("not_audio", ...) or "canceled",
    `status` None (the requests succeeded), `job` the job's final record."""

    def __init__(self, message: str, *, code: str, job: Job, request_id: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message, code=code, request_id=request_id, details=details)
        self.job = job


class WaitTimeout(MusicAnalyzerError):
    """wait(..., check=True) ran out of time before the job ended (it runs on): `job` is its record as it was.
    `code` "wait_timeout", or "wait_stopped" when the wait's `stop` event was set."""

    def __init__(self, message: str, *, job: Job, code: str = "wait_timeout") -> None:
        super().__init__(message, code=code, details={"job_id": job.get("job_id")})
        self.job = job


def job_error(job: Job) -> JobFailed:
    """A failed or canceled job as an exception carrying the worker's error code and message; a canceled job
    that kept something (a batch's finished files, a generation's text so far) has it in details["result"]."""
    err = job.get("error") or {}
    message = err.get("message") or f"job {job.get('job_id')} ended {job.get('state')}"
    details: dict[str, Any] = {"job_id": job.get("job_id")}
    if job.get("result"):
        details["result"] = job["result"]
    return JobFailed(message, code=err.get("code") or str(job.get("state")), job=job,
                     request_id=job.get("request_id"), details=details)


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def network_reason(e: Exception) -> str:
    """A short reason for a network error ("Connection refused"), not urllib3's nested repr."""
    if isinstance(e, requests.Timeout):
        return "no answer in time"
    found = _ERRNO.findall(str(e))
    if found:
        return str(found[-1]).strip()
    if "RemoteDisconnected" in str(e) or "Connection aborted" in str(e):
        return "the connection was closed without an answer"
    return type(e).__name__


def busy_hint(error: MusicAnalyzerError) -> str | None:
    """The way out of a delete refused for the jobs that still read the session or the file (409 `session_busy`,
    `file_in_use`; the server lists them in `details.jobs`): "cancel them first" had named none of them."""
    jobs = error.details.get("jobs") if error.code in ("session_busy", "file_in_use") else None
    if not jobs or not isinstance(jobs, list):
        return None
    ids = " ".join(str(j) for j in jobs)
    return f"cancel them with `music-analyzer cancel {ids}`, or let them end (`music-analyzer jobs --watch`)"
