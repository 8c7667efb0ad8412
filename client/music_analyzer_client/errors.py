"""The one exception the client raises, and how the command line maps it to an exit code."""

from __future__ import annotations

from typing import Any

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


def job_error(job: Job) -> MusicAnalyzerError:
    """A failed or canceled job as an exception carrying the worker's error code and message; a canceled job
    that kept something (a batch's finished files, a generation's text so far) has it in details["result"]."""
    err = job.get("error") or {}
    message = err.get("message") or f"job {job.get('job_id')} ended {job.get('state')}"
    details: dict[str, Any] = {"job_id": job.get("job_id")}
    if job.get("result"):
        details["result"] = job["result"]
    return MusicAnalyzerError(message, code=err.get("code") or str(job.get("state")),
                              request_id=job.get("request_id"), details=details)
