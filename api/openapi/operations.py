"""What each route is, declared once beside the others: summary, parameters, body, answers.

Keyed by "METHOD rule" exactly as Flask's url_map spells the rule, so the builder (build.py) can tell a
route without a declaration (the build fails) from a declaration without a route. The bodies of the
job-creating routes are not written here: they are the job type's options class (jobs/types.py) plus the
route's own keys, so what the spec says is what `from_request` accepts. Statuses every route shares (401,
429, 500, 503) are added by the builder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from api.creation import ROUTE_KEYS
from api.jobs import ProbeRequest
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
              507: "The session's owner has used their storage quota, USER_STORAGE_MB (`storage_quota_exceeded`)."}
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


OPERATIONS: dict[str, Op] = {
    "GET /health": Op("Liveness, Redis and workers", "service",
                      {200: Ok("Up (`degraded`: a queue has no live worker, or the data directory has less "
                               "than MIN_FREE_DISK_MB free).", ref("Health")),
                       503: Ok("Redis is not reachable: `status: unavailable`, `redis.ok: false`.", ref("Health"))},
                      {}, public=True, description="Public; with valid credentials also every worker's details."),
    "GET /openapi.json": Op("This description (OpenAPI 3.1)", "service", {200: Ok("The description.", {})},
                            {}, public=True, redis=False),
    "GET /docs": Op("The API's docs page (Swagger UI, served locally)", "service",
                    {200: Ok("An HTML page.", None, media="text/html")}, {}, public=True, redis=False),
    "GET /docs/<asset>": Op("A script, style sheet or icon of the docs page", "service",
                            {200: Ok("The file.", None, media="*/*")}, {404: "No such file."},
                            public=True, redis=False),
    "GET /": Op("The web page: upload, analyse, play and look at the results", "service",
                {200: Ok("An HTML page (its scripts and styles from /web/).", None, media="text/html")}, {},
                redis=False, description="Behind HTTP Basic like the API: the browser asks for the login."),
    "GET /web/<path:asset>": Op("A script or style sheet of the web page", "service",
                                {200: Ok("The file.", None, media="*/*")}, {404: "No such file."}, redis=False),
    "GET /metrics": Op("Prometheus metrics", "service",
                       {200: Ok("The Prometheus text format.", None, media="text/plain")}, {}),
    "POST /sessions": Op("Create a session", "sessions", {201: Ok("Created.", ref("SessionCreated"))},
                         {400: "Not a JSON object, an invalid `session_id`, or another key (`unknown_option`).",
                          409: "The caller has it already (`session_exists`), or holds MAX_SESSIONS_PER_USER sessions "
                               "(`too_many_sessions`).",
                          413: "The body is over 64 KiB.", 415: "A body that is not JSON.",
                          507: "The owner's sessions hold USER_STORAGE_MB already (`storage_quota_exceeded`), or "
                               "the data disk is below MIN_FREE_DISK_MB (`insufficient_storage`)."},
                         body=obj(session_id={"anyOf": [SESSION_ID, {"type": "null"}],
                                              "description": "Default (or null): a new random id."})
                         | {"additionalProperties": False},
                         query=(OWNER,)),
    "GET /sessions": Op("The caller's sessions, a page at a time", "sessions",
                        {200: Ok("A page, ordered by id.", ref("SessionList"))},
                        {400: "`limit` is not an integer, a `cursor` no listing gave, or an unknown parameter "
                              "(`invalid_filter`).", 404: "`owner` not visible."},
                        query=(LIMIT, CURSOR, OWNER)),
    "POST /sessions/<session_id>/files": Op(
        "Upload audio", "sessions", {201: Ok("Every file decoded and stored.", ref("Uploaded"))},
        {400: "No `file` part, or an invalid session id.", 404: "`owner` not visible.",
         409: "Too many uploads of one name; ambiguous session; a new session id past MAX_SESSIONS_PER_USER "
              "(`too_many_sessions`); a file named as a result of the session (`name_is_a_result`).",
         413: "Over MAX_UPLOAD_BYTES, or the files together over MAX_REQUEST_SAMPLES.",
         415: "Not audio of an accepted format, or a body that is not multipart/form-data.",
         422: "Audio that cannot be used (corrupt, empty, too long).",
         507: "The disk is full, or the upload would leave less than MIN_FREE_DISK_MB free "
              "(`insufficient_storage`); it would take the owner past USER_STORAGE_MB (`storage_quota_exceeded`)."},
        multipart=True, query=(OWNER,), description="Creates the session when it does not exist yet."),
    "GET /sessions/<session_id>": Op("A session: uploads, results and jobs", "sessions",
                                     {200: Ok("The session.", ref("Session"))}, SESSION_ERRORS, query=(OWNER,)),
    "DELETE /sessions/<session_id>": Op("Delete a session", "sessions", {200: Ok("Gone.", ref("SessionDeleted"))},
                                        {**SESSION_ERRORS, 409: "Jobs of it are queued or running; ambiguous."},
                                        query=(OWNER,),
                                        description="Its uploads and results go, and with them its jobs' records "
                                                    "(GET /jobs/<id> of them is 404), their event logs and webhook "
                                                    "histories, and the results cached from it."),
    "GET /sessions/<session_id>/files/<name>": Op(
        "Download an upload or a result", "sessions",
        {200: Ok("The file (audio, JSON, text, PNG, MIDI...).", None, media="*/*", headers=("ETag", "X-File-Area")),
         206: Ok("The one byte range asked for (`Content-Range: bytes a-b/size`).", None, media="*/*",
                 headers=("Content-Range", "X-File-Area")),
         304: Ok("The copy named by `If-None-Match` is current (no body).", None, media="")},
        {**SESSION_ERRORS, 400: "The session id is not valid, or an `area` other than `uploads` or `results`.",
         404: "No such session or file.",
         416: "The byte range starts past the end (`Content-Range: bytes */size` gives the length)."},
        query=(Param("area", {"enum": ["uploads", "results"]},
                     "Where to look (default: the uploads, then the results; `X-File-Area` says which)."),
               Param("inline", {"enum": ["1"]}, "`1`: shown inline rather than as an attachment."), OWNER),
        headers=("Range", "If-None-Match"),
        description="One byte range (`Range: bytes=a-b`) is served as 206; a Range of several ranges, of another "
                    "unit or unparseable is ignored (the whole file), as RFC 9110 allows."),
    "DELETE /sessions/<session_id>/files/<name>": Op(
        "Delete an upload or a result", "sessions", {200: Ok("Gone.", ref("FileDeleted"))},
        {**SESSION_ERRORS, 400: "The session id is not valid, or an `area` other than `uploads` or `results`.",
         404: "No such session or file.", 409: "A queued or running job reads the upload; ambiguous session."},
        query=(Param("area", {"enum": ["uploads", "results"]}, "Where to look (default: uploads, then results)."),
               OWNER),
        description="An upload takes its decoded info and digest with it and leaves the library; the results "
                    "made from it stay, and its name is not given to a later upload."),
    "GET /jobs": Op("The caller's jobs, newest first, a page at a time", "jobs",
                    {200: Ok("A page.", ref("JobList"))},
                    {400: "A bad `limit`, `cursor`, `state`, `since` or session id.", 404: "`owner` not visible."},
                    query=(Param("session_id", SESSION_ID, "Only this session's jobs."),
                           Param("type", {"type": "string"}, "Job types, comma separated."),
                           Param("state", {"type": "string", "examples": ["queued,running"]},
                                 "States, comma separated."),
                           Param("since", {"type": "string", "examples": ["2026-01-01T00:00:00Z"]},
                                 "Created at or after: ISO 8601 or Unix seconds."), LIMIT, CURSOR, OWNER)),
    "GET /jobs/<job_id>": Op("A job", "jobs", {200: Ok("The job (after `wait`, if given).", ref("Job"))},
                             {400: "`wait` is not a number in [0, 3600].", 404: "No such job."},
                             query=(Param("wait", {"type": "number", "minimum": 0, "maximum": 3600},
                                          "Long poll: seconds to wait for the job to finish "
                                          "(capped by JOB_WAIT_MAX_SECONDS)."),)),
    "DELETE /jobs/<job_id>": Op("Cancel a job", "jobs", {202: Ok("Canceled, or cancel requested.",
                                                                 ref("CancelAnswer"))},
                                {404: "No such job.", 409: "The job has already finished."}),
    "GET /jobs/<job_id>/webhooks": Op("A job's webhook deliveries", "jobs",
                                      {200: Ok("Each delivery with its attempts.", ref("WebhookList"))},
                                      {404: "No such job."}),
    "GET /webhooks/secret": Op("Your webhook key", "jobs",
                               {200: Ok("The key every delivery of the user's jobs is also signed with (a second "
                                        "`v1,` signature in `webhook-signature`): verify with it, and no other "
                                        "user can have signed what you accept.", ref("WebhookSecret"))},
                               {400: "A query parameter other than `owner`.", 404: "`owner` not visible."},
                               query=(OWNER,)),
    "POST /tokens": Op("Make an API token", "tokens",
                       {201: Ok("The token, shown this once (`Cache-Control: no-store`): send it as `Authorization: "
                                "Bearer <token>` in place of your password.", ref("TokenCreated"))},
                       {400: "No `name`, one over 100 characters or not printable (`invalid_token_name`), or "
                             "another key (`unknown_option`).",
                        403: "Asked with a token, not your password (`password_required`): a leaked token cannot "
                             "make more.",
                        409: "You hold 50 tokens already (`too_many_tokens`).", 413: "The body is over 1 MiB.",
                        415: "A body that is not JSON.",
                        503: "The tokens file cannot be read (`tokens_unavailable`).",
                        507: "The data disk is full (`insufficient_storage`)."},
                       body=obj(["name"], name={"type": "string", "minLength": 1, "maxLength": 100,
                                                "description": "What it is for: \"ci\", \"my app\"."}),
                       example={"name": "ci"}),
    "GET /tokens": Op("Your API tokens", "tokens", {200: Ok("Without their secrets.", ref("TokenList"))},
                      {400: "A query parameter other than `owner`.", 404: "`owner` not visible."}, query=(OWNER,)),
    "DELETE /tokens/<token_id>": Op("Revoke an API token", "tokens",
                                    {200: Ok("Revoked: refused from the next request on, by every API process.",
                                             ref("TokenRevoked"))},
                                    {400: "A query parameter other than `owner`.",
                                     404: "No such token of yours (`token_not_found`), or `owner` not visible.",
                                     503: "The tokens file cannot be read (`tokens_unavailable`).",
                                     507: "The data disk is full (`insufficient_storage`)."}, query=(OWNER,)),
    "GET /jobs/<job_id>/events": Op(
        "A job's progress as Server-Sent Events", "jobs",
        {200: Ok("`text/event-stream`: state, progress and stage changes, then the final job record. In a "
                 "batch, the progress event after each file carries `finished_file` (its result or its error); "
                 "a queued job's `state` events carry its place in its queue (`jobs_ahead`), told again when it moves.",
                 ref("JobEvent"), media="text/event-stream"),
         204: Ok("A reconnect whose `Last-Event-ID` is the final event: nothing more (EventSource stops).",
                 None)},
        {400: "`Last-Event-ID` is not an event id of this stream (`bad_last_event_id`).", 404: "No such job."},
        headers=("Last-Event-ID",)),
    "POST /jobs/probe": Op("Prove a worker serves a queue", "jobs",
                           {200: Ok("A worker ran the no-op job.", ref("ProbeAnswer")),
                            504: Ok("No worker answered within `wait` (`ok: false`).", ref("ProbeAnswer"))},
                           {400: "Unknown queue or `wait` out of range.", 413: "The body is over 1 MiB.",
                            415: "A body that is not JSON.",
                            429: "Too many failed logins, or (`too_many_waits`) the caller already holds "
                                 "WAITS_PER_USER waiting requests in this process."},
                           options=ProbeRequest, example={"queue": "gpu", "wait": 5}),
    "POST /process/features/<session_id>": process("features", "Audio features", {"picture": True}),
    "POST /process/pitch/<session_id>": process("pitch", "Key, tuning, chords, tempo, beats and melody",
                                                {"include": ["key", "chords", "tempo"]}),
    "POST /process/gemma_3n/<session_id>": process("gemma_3n", "Audio LLM analysis or transcription",
                                                   {"task": "analyze", "model_variant": "gemma-3n-E4B",
                                                    "max_new_tokens": 512}),
    "POST /process/demucs/<session_id>": process("demucs", "Source separation (Demucs, or hpss/repet DSP)",
                                                 {"model": "htdemucs", "two_stems": "vocals", "format": "flac"}),
    "POST /process/whisper/<session_id>": process("whisper", "Speech transcription (faster-whisper)",
                                                  {"model": "tiny.en", "language": "en", "word_timestamps": True}),
    "POST /process/musicgen/<session_id>": process("musicgen", "Music generation (MusicGen)",
                                                   {"prompt": "slow jazz guitar with soft brushes",
                                                    "duration_seconds": 8, "seed": 7}, reads_uploads=False),
    "POST /process/lyrics/<session_id>": process("lyrics", "Lyrics analysis (transcript, then an LLM)",
                                                 {"model_variant": "auto", "temperature": 0}),
    "POST /process/compare/<session_id>": Op(
        "Compare two to five tracks", "process", CREATED,
        {**JOB_ERRORS, 400: "`files` is not two to five different uploads, or an option is out of range."},
        example={"files": ["take1.wav", "take2.wav"], "model_variant": "auto"},
        options=JOB_TYPES["compare"].options, body_keys=("files", "webhook", "webhook_events_filter"),
        key_schemas={"files": COMPARED_FILES}, required_keys=("files",),
        query=(OWNER,), headers=("Idempotency-Key", "Prefer"),
        description="The body is `files` (two to five uploads) plus the job's options; the comparison quotes "
                    "what the session measured about each track."),
    "GET /api/v2/models/status": Op("Models: resident, downloaded, memory", "models",
                                    {200: Ok("Status as the GPU worker last published it.", ref("ModelsStatus"))}, {}),
    "POST /api/v2/models/load": model("model_load", "Load an LLM (unloading the resident one)", "ModelLoadResult",
                                      {"model_type": "smollm2-135m", "wait": 60}),
    "POST /api/v2/models/unload": model("model_unload", "Unload the resident LLM", "ModelUnloadResult", {"wait": 30}),
    "POST /api/v2/models/generate": model("generate", "Generate text with an LLM", "GenerateResult",
                                          {"prompt": "Describe a minor key in one sentence.", "max_length": 40,
                                           "temperature": 0}),
}

LIBRARY_ERRORS = {400: "A filter, `limit` or `cursor` is not acceptable.",
                  503: "The library database is not reachable (`library_unavailable`).",
                  507: "The library database cannot be made or written: the disk is full (`insufficient_storage`)."}
NUMBER = {"type": "number"}
TRACK_FILTERS = (
    Param("key", {"type": "string", "examples": ["A minor", "8A", "F#m"]}, "A key or Camelot code."),
    Param("key_relation", {"enum": ["exact", "relative", "compatible"], "default": "exact"},
          "exact; relative (also the relative major/minor); compatible (Camelot neighbours: same number, "
          "one step round the wheel). Without `key`: 400 `invalid_filter`."),
    Param("tempo_min", {**NUMBER, "minimum": 1, "maximum": 1000}, "BPM at least."),
    Param("tempo_max", {**NUMBER, "minimum": 1, "maximum": 1000}, "BPM at most."),
    Param("tempo_multiples", {"enum": ["1", "0", "true", "false"], "default": "1"},
          "Also tracks whose double or half tempo is in range (`tempo_match`: double | half); alone: 400."),
    Param("metre", {"type": "string", "examples": ["4/4"]}, "Time signature."),
    Param("duration_min", {**NUMBER, "minimum": 0}, "Seconds at least."),
    Param("duration_max", {**NUMBER, "minimum": 0}, "Seconds at most."),
    Param("loudness_min", {**NUMBER, "minimum": -200, "maximum": 50}, "Integrated loudness (LUFS) at least."),
    Param("loudness_max", {**NUMBER, "minimum": -200, "maximum": 50}, "Integrated loudness (LUFS) at most."),
    Param("has_vocals", {"enum": ["1", "0", "true", "false"]}, "Tracks with (or without) sung words."),
    Param("session_id", SESSION_ID, "Only this session's tracks."),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "Page size (clamped)."),
    CURSOR)
LIBRARY_OPERATIONS: dict[str, Op] = {
    "GET /library/tracks": Op("The caller's indexed tracks, filtered, a page at a time", "library",
                              {200: Ok("A page ordered by session and file.", ref("TrackList"))},
                              {404: "`owner` not visible.", **LIBRARY_ERRORS}, query=(*TRACK_FILTERS, OWNER)),
    "GET /library/tracks/<track_id>": Op("One indexed track", "library", {200: Ok("The track.", ref("Track"))},
                                         {404: "No such track (or not the caller's), or `owner` not visible.",
                                          **LIBRARY_ERRORS}, query=(OWNER,)),
    "GET /library/tracks/<track_id>/similar": Op(
        "Tracks that sound alike, or that a DJ could mix into", "library",
        {200: Ok("Nearest first.", ref("SimilarTracks"))},
        {404: "No such track (or not the caller's), or `owner` not visible.",
         422: "The track has no descriptors (run features), or `mix=1` without its key and tempo (run pitch).",
         **LIBRARY_ERRORS},
        query=(Param("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}, "How many."),
               Param("mix", {"enum": ["1", "0", "true", "false"], "default": "0"},
                     "Only tracks in a compatible key whose tempo (or its double or half) is within "
                     "LIBRARY_MIX_TEMPO_PERCENT."), OWNER),
        description="Distance: Euclidean over standardised descriptors weighted by group (timbre 0.45, "
                    "harmony 0.30, rhythm 0.15, energy 0.10; library/descriptors.py)."),
    "GET /library/search": Op(
        "Search lyrics, meaning, or both", "library", {200: Ok("Hits best first.", ref("SearchResults"))},
        {400: "`q` empty or over 500 characters, unknown `mode`, bad `limit` or `cursor`.",
         404: "`owner` not visible.", 503: LIBRARY_ERRORS[503]},
        query=(Param("q", {"type": "string", "minLength": 1, "maxLength": 500, "examples": ["river road"]},
                     "What to look for.", required=True),
               Param("mode", {"enum": ["lyrics", "semantic", "hybrid"], "default": "hybrid"},
                     "lyrics: phrase, then fuzzy line matches; semantic: embeddings of transcripts and analyses; "
                     "hybrid: reciprocal-rank fusion of both."),
               Param("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}, "Page size."),
               CURSOR, OWNER)),
    "POST /library/ask": Op(
        "Ask a question about your library (retrieval, then the LLM)", "library",
        {200: Ok("The answer, citations (track, line, time).", with_job_id("LibraryAnswer")), **MODEL_ANSWERS},
        {**MODEL_ERRORS, 404: "`owner` not visible.", 500: "The model failed (`model_error`), or an internal error."},
        example={"question": "Which song is about walking by the river?", "wait": 60},
        options=JOB_TYPES["library_ask"].options, body_keys=("wait", "webhook", "webhook_events_filter"),
        query=(MODEL_WAIT, OWNER), headers=("Idempotency-Key",),
        description="Runs on the GPU queue like /api/v2/models/generate: waits up to `wait` seconds."),
    "POST /library/reindex": Op(
        "Rebuild the caller's library from the session files", "library", CREATED,
        {400: "A body that is not an empty JSON object, or a bad `webhook`.", 413: "The body is over 1 MiB.",
         404: "`owner` not visible.", 409: "Idempotency-Key still in use.", 415: "A body that is not JSON.",
         422: "The Idempotency-Key came with another request."},
        body_keys=("webhook", "webhook_events_filter"), options=JOB_TYPES["library_reindex"].options,
        headers=("Idempotency-Key", "Prefer"), query=(OWNER,), example={}),
}

UPLOAD_BODY = obj(["file"], file=arr({"type": "string", "format": "binary"},
                                     "One or more audio files (wav, flac, ogg, mp3, m4a, aiff, webm, caf, wv).")
                  | {"minItems": 1})

OPERATIONS.update(LIBRARY_OPERATIONS)
