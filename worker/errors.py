"""One exception hierarchy for the whole service.

Pipelines raise these; the task layer records `code` and `message` in the job;
routes map `http_status` to the response. Nothing below the routes knows HTTP,
the status is only a hint carried with the error kind.
"""

from __future__ import annotations


class MusicAnalyzerError(Exception):
    """Base class: a failure whose reason can be shown to the user."""

    code = "error"
    http_status = 500

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}

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


class ContextLengthError(ModelError):
    code = "context_length_exceeded"
    http_status = 422


class JobCanceled(MusicAnalyzerError):
    """Raised at a progress checkpoint once the job's cancel flag is set."""

    code = "canceled"
    http_status = 409
