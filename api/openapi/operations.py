"""What each route is, declared once beside the others: summary, parameters, body, answers.

Keyed by "METHOD rule" exactly as Flask's url_map spells the rule, so the builder (build.py) can tell a
route without a declaration (the build fails) from a declaration without a route. The bodies of the
job-creating routes are not written here: they are the job type's options class (jobs/types.py) plus the
route's own keys, so what the spec says is what `from_request` accepts. Statuses every route shares (401,
429, 500, 503) are added by the builder.
"""

from __future__ import annotations

from api.jobs import ProbeRequest
from jobs.types import JOB_TYPES

from .declarations import (
    COMPARED_FILES,
    CREATED,
    CURSOR,
    JOB_ERRORS,
    LIMIT,
    OWNER,
    ROUTE_KEY_SCHEMAS,
    SESSION_ERRORS,
    SESSION_ID,
    SESSION_ORDER,
    Ok,
    Op,
    Param,
    model,
    process,
)
from .library_operations import LIBRARY_OPERATIONS
from .shapes import obj, ref

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
                       {200: Ok("The Prometheus text format.", None, media="text/plain")}, {}, redis=False,
                       description="Answers 200 with Redis away too: this host's HTTP and upload counters and "
                                   "`ma_redis_up 0`, without the families kept in Redis (jobs, queues, workers, "
                                   "models, webhooks); `ma_redis_up 1` when Redis answered the scrape."),
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
                        {200: Ok("A page, ordered by id or (`order=modified`) the most recently modified first.",
                                 ref("SessionList"))},
                        {400: "`limit` is not an integer, a `cursor` no listing of that order gave "
                              "(`invalid_cursor`), or an unknown parameter or `order` (`invalid_filter`).",
                         404: "`owner` not visible."},
                        query=(LIMIT, CURSOR, SESSION_ORDER, OWNER)),
    "POST /sessions/<session_id>/files": Op(
        "Upload audio", "sessions", {201: Ok("Every file decoded and stored.", ref("Uploaded"))},
        {400: "No `file` part, or an invalid session id.", 404: "`owner` not visible.",
         409: "Too many uploads of one name; ambiguous session; a new session id past MAX_SESSIONS_PER_USER "
              "(`too_many_sessions`); a file named as a result of the session (`name_is_a_result`).",
         413: "Over MAX_UPLOAD_BYTES, or the files together over MAX_REQUEST_SAMPLES.",
         415: "Not audio of an accepted format, or a body that is not multipart/form-data.",
         422: "Audio that cannot be used (corrupt, empty, too long).",
         429: "Too many failed logins, or (`too_many_uploads`) the caller already has UPLOADS_PER_USER uploads "
              "being checked in this process: nothing stored, send it again after Retry-After.",
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
    "GET /separation/models": Op("The separation models and whether each can run here", "process",
                                 {200: Ok("Every `model` name POST /process/demucs takes, with whether its weights "
                                          "are on this machine (`present`; the DSP methods hpss and repet need "
                                          "none).", ref("SeparationModels"))},
                                 {400: "A query parameter other than `owner` (`invalid_filter`; `owner` is "
                                       "taken, as the CLI's --owner sends it, and changes nothing)."},
                                 query=(OWNER,)),
    "GET /whisper/models": Op("The Whisper models and whether each can run here", "process",
                              {200: Ok("Every `model` name POST /process/whisper takes, with whether a copy is on "
                                       "this machine (`present`; false: a job asking for it is a 409), and the "
                                       "`default` one.", ref("WhisperModels"))},
                              {400: "A query parameter other than `owner` (`invalid_filter`; `owner` is taken, as "
                                    "the CLI's --owner sends it, and changes nothing)."},
                              query=(OWNER,)),
    "POST /webhooks/check": Op("Check a webhook before using it", "jobs",
                               {200: Ok("A job-creating request would take it: the URL and the events it would "
                                        "get. Nothing is sent to it.", ref("WebhookCheck"))},
                               {400: "Not an http(s) URL or events not known (`invalid_webhook`), a host or port "
                                     "not in WEBHOOK_ALLOWED_HOSTS (`webhook_not_allowed`), or another key "
                                     "(`unknown_option`).", 413: "The body is over 1 MiB.",
                                415: "A body that is not JSON."},
                               body=obj(["webhook"], webhook=ROUTE_KEY_SCHEMAS["webhook"],
                                        webhook_events_filter=ROUTE_KEY_SCHEMAS["webhook_events_filter"]),
                               example={"webhook": "https://hooks.example.net/music", "webhook_events_filter":
                                        ["completed"]}),
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

OPERATIONS.update(LIBRARY_OPERATIONS)
