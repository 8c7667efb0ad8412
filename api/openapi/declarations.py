"""The pieces the route declarations are made of (operations.py, library_operations.py): a declaration's
shape (Op, Ok, Param), the parameters, bodies and answers several routes share, and the helpers that declare
the job-creating and model routes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from api.creation import ROUTE_KEYS
from jobs.types import JOB_TYPES
from storage import SESSION_ID_RE
from worker.options import JobOptions

from .shapes import Schema, arr, obj, ref, with_job_id


@dataclass(frozen=True)
class Param:
    name: str
    schema: Schema
    description: str
    where: str = "query"
    required: bool = False  # a path parameter always is


@dataclass(frozen=True)
class Ok:
    """A success answer: status, what it means, its schema (None: no JSON body) and media type."""

    description: str
    schema: Schema | None
    media: str = "application/json"
    headers: tuple[str, ...] = ()  # names of components.headers


@dataclass(frozen=True)
class Op:
    summary: str
    tag: str
    ok: Mapping[int, Ok]
    errors: Mapping[int, str]  # error status -> when it is answered (the body is always `Error`)
    description: str = ""
    options: type[JobOptions] | None = None  # the body is these options (json_schema) + `body_keys`
    body_keys: tuple[str, ...] = ()
    key_schemas: Mapping[str, Schema] = field(default_factory=dict)  # a body key's own schema on this route
    required_keys: tuple[str, ...] = ()  # body keys (not options) the route cannot do without (400 missing)
    example: Mapping[str, Any] | None = None  # a request body (tests/test_openapi.py: the options accept it)
    body: Schema | None = None  # any other JSON body
    multipart: bool = False
    query: tuple[Param, ...] = ()
    headers: tuple[str, ...] = ()  # names of components.parameters (request headers)
    public: bool = False  # no credentials needed
    redis: bool = True  # answers 503 when Redis is down


SESSION_ID = {"type": "string", "pattern": SESSION_ID_RE.pattern, "examples": ["demo"]}
PATH_PARAMS: dict[str, Param] = {
    "session_id": Param("session_id", SESSION_ID, "A session id of the caller (an admin: of anyone).", "path"),
    "job_id": Param("job_id", {"type": "string", "examples": ["4f1c0b5e9d2a4c7f8e6b3a2d1c0f9e8d"]},
                    "A job id.", "path"),
    "name": Param("name", {"type": "string", "examples": ["song.wav"]}, "A file name in the session.", "path"),
    "asset": Param("asset", {"type": "string", "examples": ["swagger-ui.css"]},
                   "A file of the docs page or of the web page.", "path"),
    "track_id": Param("track_id", {"type": "string", "examples": ["3f2a9c0d1e4b5a6978c0d1e2"]},
                      "A track id of the caller's library.", "path"),
    "token_id": Param("token_id", {"type": "string", "pattern": "^[0-9a-f]{12}$", "examples": ["9c1e04d7a2b3"]},
                      "An API token's id (`id` of GET /tokens; the token itself is `ma_<id>_<secret>`).", "path"),
}
OWNER = Param("owner", {"type": "string"}, "Admins: whose data is meant (anyone else: only their own name).")
LIMIT = Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
              "Page size: 1-1000 (more is taken as 1000; less than 1, or not a number, is 400 `invalid_limit`).")
CURSOR = Param("cursor", {"type": "string"}, "`next_cursor` of the previous page.")
SESSION_ORDER = Param("order", {"type": "string", "enum": ["id", "modified"], "default": "id"},
                      "`id` (the default): by session id; `modified`: the most recently modified first, ties by id. "
                      "A page's `next_cursor` continues in the order it was given for (given to the other: 400 "
                      "`invalid_cursor`); another value is 400 `invalid_filter`.")
MODEL_WAIT = Param("wait", {"type": "number", "minimum": 0, "maximum": 600},
                   "Seconds to wait for the result (also a body key; default SYNC_WAIT_SECONDS).")

ROUTE_KEY_SCHEMAS: dict[str, Schema] = {
    "file": {"type": "string", "description": "An upload of the session; without it every upload (a batch).",
             "examples": ["song.wav"]},
    "wait": MODEL_WAIT.schema | {"description": MODEL_WAIT.description},
    "webhook": {"type": "string", "format": "uri", "maxLength": 2048,
                "description": "An http(s) URL (host in WEBHOOK_ALLOWED_HOSTS) that gets the job's events."},
    "webhook_events_filter": {"type": "array", "minItems": 1, "items": {"enum": ["start", "progress", "completed"]},
                              "description": "The events to send (default: all)."},
    "files": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string"},
              "description": "Uploads of the session: one batch job over these (instead of `file`, or of every "
                             "upload).", "examples": [["take1.wav", "take2.wav"]]},
}
COMPARED_FILES: Schema = {"type": "array", "minItems": 2, "maxItems": 5, "uniqueItems": True,
                          "items": {"type": "string"}, "examples": [["take1.wav", "take2.wav"]],
                          "description": "Two to five uploads of the session, compared together."}
assert set(ROUTE_KEY_SCHEMAS) == set(ROUTE_KEYS), "every key a route takes besides the options is described"

JOB_ERRORS = {400: "An option is unknown or out of range, `files` is not a list of different names, or `webhook` is "
                   "not acceptable.",
              404: "No such session (or not the caller's), or no such upload `file` (or one of `files`).",
              409: "Idempotency-Key still in use; weights missing (`model_not_downloaded`); ambiguous session.",
              413: "The options body is over 1 MiB.",
              415: "A body that is not JSON.",
              422: "No uploads to process; the Idempotency-Key came with another request.",
              507: "What the job is estimated to write, with the owner's sessions and their queued and running jobs' "
                   "estimates, exceeds their storage quota, USER_STORAGE_MB (`storage_quota_exceeded`); or it "
                   "would leave the data disk under MIN_FREE_DISK_MB (`insufficient_storage`): nothing queued."}
CREATED = {202: Ok("The job is queued (or, with Idempotency-Key, the job that key made).", ref("JobAccepted")),
           200: Ok("With `Prefer: wait=N`: the job finished within N seconds.", ref("Job"),
                   headers=("Preference-Applied",))}
SESSION_ERRORS = {400: "The session id is not valid.", 404: "No such session (or not the caller's).",
                  409: "Several users hold the id (admins: name one with `?owner=`)."}


def process(job_type: str, summary: str, example: Mapping[str, Any], *, reads_uploads: bool = True) -> Op:
    if not reads_uploads:
        return Op(summary, "process", CREATED, JOB_ERRORS, example=example, options=JOB_TYPES[job_type].options,
                  body_keys=("webhook", "webhook_events_filter"), query=(OWNER,), headers=("Idempotency-Key", "Prefer"),
                  description="The body is the job's options plus `webhook` and `webhook_events_filter`; every field "
                              "is optional. Options are checked (400) before anything is queued.")
    return Op(summary, "process", CREATED, JOB_ERRORS, example={"file": "song.wav", **example},
              options=JOB_TYPES[job_type].options, body_keys=("file", "files", "webhook", "webhook_events_filter"),
              query=(OWNER,),
              headers=("Idempotency-Key", "Prefer"),
              description="The body is the job's options plus `file` (one upload) or `files` (a batch of several; "
                          "neither: every upload), `webhook` and `webhook_events_filter`; every field is optional. "
                          "Options are checked (400) before anything is queued.")


MODEL_ANSWERS = {202: Ok("Still running after `wait`: follow the job.", ref("ModelJobPending"))}
MODEL_ERRORS = {400: "Unknown model or option; `wait` out of range.", 409: "The model's weights are missing.",
                413: "The body is over 1 MiB.", 415: "A body that is not JSON.",
                422: "The prompt does not fit the model's context; Idempotency-Key reused.",
                507: "The model ran out of memory."}


def model(job_type: str, summary: str, result: str, example: Mapping[str, Any]) -> Op:
    return Op(summary, "models", {200: Ok("The job's result and `job_id`.", with_job_id(result)), **MODEL_ANSWERS},
              {**MODEL_ERRORS, 500: "The model failed (`model_error`), or an internal error."}, example=example,
              options=JOB_TYPES[job_type].options, body_keys=("wait", "webhook", "webhook_events_filter"),
              query=(MODEL_WAIT,),
              headers=("Idempotency-Key",),
              description="Runs on the GPU worker's queue; the request waits up to `wait` seconds (body or "
                          "query) and answers 200 with the result, the job's own error status if it failed, "
                          "or 202 with the job to follow.")


UPLOAD_BODY = obj(["file"], file=arr({"type": "string", "format": "binary"},
                                     "One or more audio files (wav, flac, ogg, mp3, m4a, aiff, webm, caf, wv).")
                  | {"minItems": 1})
