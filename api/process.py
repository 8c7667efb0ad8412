"""POST /process/<kind>/<session_id>: validate the request, enqueue a job, answer 202 (or 200, Prefer: wait).

Every route takes the same shape of body: the job's options plus the route's own keys (`file`, `webhook`,
`webhook_events_filter`, and `wait` on the model routes). Options are validated by their class'
`from_request` (400 naming any unknown key) before anything is queued; api/creation.py makes the job
(webhook, Idempotency-Key) and the answer (Prefer: wait).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Blueprint, current_app, request
from werkzeug.exceptions import BadRequest

from api import access
from api.auto_check import auto_choice
from api.creation import ROUTE_KEYS, answer, asked_wait, create_job
from config import MODEL_REGISTRY
from jobs import webhooks
from jobs.types import JOB_TYPES
from storage import SessionStore
from worker.audio_llm.files import find_transcript
from worker.audio_llm.options import Gemma3NOptions, check_can_transcribe, check_weights
from worker.errors import AudioError, ContentTypeError, InvalidRequestError, PayloadTooLargeError, UnsupportedMediaError
from worker.files import is_image_name
from worker.llm.choice import AUTO
from worker.options import JobOptions

bp = Blueprint("process", __name__)
OptionsT = TypeVar("OptionsT", bound=JobOptions)

MAX_JSON_BYTES = 1024 * 1024  # an options body; prompts and chat histories fit many times over


def json_body() -> dict:
    """The request's JSON object, `{}` for no body at all.

    A body that is not declared JSON is refused (415) rather than ignored: ignoring it once turned a
    mistyped request into a batch over every upload of the session.
    """
    length = request.content_length or 0
    if length > MAX_JSON_BYTES:
        raise PayloadTooLargeError(f"the options body is over {MAX_JSON_BYTES} bytes")
    has_body = length > 0 or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not request.is_json:
        if has_body or request.mimetype:
            raise ContentTypeError("send the options as a JSON object with Content-Type: application/json")
        return {}
    if not has_body:
        return {}
    try:
        body = request.get_json()
    except BadRequest as e:  # malformed, or nested too deeply to read (api/context.py): it had read "must be an object"
        raise InvalidRequestError("the request body is not valid JSON", code="invalid_json") from e
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object", code="invalid_json")
    return body


def options_of(cls: type[OptionsT], body: dict, *, route_keys: tuple[str, ...] = ROUTE_KEYS,
               wait_limit: float | None = None) -> OptionsT:
    """Validated options of class `cls` from the body without the route's keys (400 before queueing).
    `route_keys`: the body keys the route itself reads (the model and library routes read no files);
    `wait_limit`: the route waits for its job itself, up to this many seconds (creation.wait_seconds)."""
    raw = {k: v for k, v in body.items() if k not in route_keys}
    try:
        options = cls.from_request(raw, settings=current_app.config)
    except InvalidRequestError as e:
        if e.code == "unknown_option" and "valid" in e.details:  # the body may carry the route's keys too
            e.details["valid"] = sorted({*e.details["valid"], *route_keys})
        raise
    # the route's own keys too, before any 404 or 409: a stranger's `"wait": "abc"` or `"webhook": 123` got 409
    # model_not_downloaded where the weights were missing, and the 400 only once they were there
    webhooks.parse_request(body, current_app.config)
    asked_wait(limit=wait_limit)
    return options


def session_files(store: SessionStore, session_id: str, body: dict) -> tuple[list[str], bool]:
    """(upload names, batch): the named upload `file`, the uploads `files` lists (a batch of them), or every
    upload of the session (a batch). `files` had been taken and ignored here: a stranger's batch of one named
    file ran over all five uploads."""
    name, names = body.get("file"), body.get("files")
    if name is not None and names is not None:
        raise InvalidRequestError("give `file` (one upload) or `files` (several), not both", code="invalid_files")
    if name is not None:
        if not isinstance(name, str):
            raise InvalidRequestError("'file' must be a file name", code="invalid_file")
        _audio_upload(store, session_id, name)
        return [name], False
    if names is not None:
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names) \
                or len(set(names)) != len(names):
            raise InvalidRequestError("`files` must list different uploads of the session (or use `file` for one)",
                                      code="invalid_files")
        for listed in names:
            _audio_upload(store, session_id, listed)
        return list(names), True
    names = store.upload_names(session_id)
    if not names:
        raise AudioError(f"session {session_id!r} has no audio files; upload one first", code="no_audio_files")
    return names, True


def _audio_upload(store: SessionStore, session_id: str, name: str) -> None:
    store.file_path(session_id, name, area="uploads")  # 404 if absent
    if is_image_name(name):
        raise UnsupportedMediaError(f"{name!r} is an image; this job analyses audio (images go in `image`)",
                                    code="not_audio")


def check_image_option(store: SessionStore, session_id: str, name: str | None, *, model_variant: str) -> None:
    """`image` names an image upload of the session (404, 415), and a chosen model sees images (400); with
    `auto` the route's own model choice asks for one that does."""
    if name is None:
        return
    store.file_path(session_id, name, area="uploads")  # 404 if absent
    if not is_image_name(name):
        raise UnsupportedMediaError(f"`image` must name an image upload (PNG, JPEG, WebP); {name!r} is not one",
                                    code="not_image")
    if model_variant != AUTO and "image" not in MODEL_REGISTRY[model_variant].get("modalities", ()):
        raise InvalidRequestError(f"{model_variant} does not take images; leave out `image` or choose a model "
                                  "that sees (gemma-3-12b-it, gemma-3n-*, phi-4-multimodal)",
                                  code="image_not_supported")


def submit_for_files(job_type: str, session_id: str, body: dict, *, options: JobOptions | None = None,
                     queue: str | None = None, check: Callable[[Any], None] | None = None):
    """Validate (400), resolve the session (404 unless the caller's, or any for an admin) and the files
    (404/422), run the route's `check` (e.g. weights: 409), queue a job of the session's owner."""
    options = options or options_of(JOB_TYPES[job_type].options, body)
    store = access.session(session_id)
    files, batch = session_files(store, session_id, body)
    if check is not None:
        check(options)
    return answer(create_job(job_type, owner=store.owner, session_id=session_id, options=options, body=body,
                             files=files, batch=batch, queue=queue))


@bp.post("/process/features/<session_id>")
def process_features(session_id: str):
    return submit_for_files("features", session_id, json_body())


@bp.post("/process/pitch/<session_id>")
def process_pitch(session_id: str):
    return submit_for_files("pitch", session_id, json_body())


@bp.post("/process/gemma_3n/<session_id>")
def process_gemma_3n(session_id: str):
    # weights missing: 409 saying how to get them, before queueing
    body = json_body()

    def check(options: Gemma3NOptions) -> None:
        if options.model_variant == AUTO:  # here or on a live GPU worker (auto_check.py); 409 where neither can
            auto_choice(options.task, needs=("image",) if options.image else ())
        else:
            check_weights(options, current_app.config)
        store = access.session(session_id)
        check_image_option(store, session_id, options.image, model_variant=options.model_variant)
        results = store.require(session_id) / "results"  # read only: not made here
        for name in session_files(store, session_id, body)[0]:  # a text-only model transcribes from Whisper's
            # transcript only: 422 without one
            check_can_transcribe(options, name, find_transcript(results, Path(name).stem) is not None,
                                 results=results)

    return submit_for_files("gemma_3n", session_id, body, options=options_of(Gemma3NOptions, body), check=check)
