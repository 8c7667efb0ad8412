"""Response shapes (OpenAPI 3.1 / JSON Schema 2020-12) of the API: job records, results, listings, status.

Objects name the fields clients read as `required` and stay open (`additionalProperties` allowed), so a
field added later is not a break; result shapes are the dicts the pipelines return (worker/*/pipeline.py,
models.py). tests/test_openapi.py validates real answers against them; the schemathesis contract test
checks every answer of the live service.
"""

from __future__ import annotations

from typing import Any

from jobs.record import STATES
from jobs.types import JOB_TYPES
from jobs.webhooks import EVENTS

from .catalog import ERROR_CODES
from .job_fields import ETA, FIRST_STARTED_AT, GENERATION, JOBS_AHEAD, LOST_ATTEMPTS, MERGED_WITH, METHOD, STARTED_AT
from .library_schemas import library_schemas
from .model_schemas import generate_result, load_result, musicgen_result, unload_result
from .shapes import (
    BOOL,
    FILES,
    INT,
    NUM,
    SPEECH_MEASURED_SECONDS,
    SPEECH_SHARE,
    SPEECH_SOURCE,
    STOPPED,
    STR,
    TIME,
    Schema,
    arr,
    content,
    null,
    obj,
    ref,
)
from .status_schemas import status_schemas


def error_schema() -> Schema:
    table = "\n".join(f"- `{code}` ({status}): {meaning}" for code, (status, meaning) in ERROR_CODES.items())
    return obj(["error"], "Every error the API answers. `code` is stable, `message` is for people.",
               error=obj(["code", "message"],
                         code={"type": "string", "description": "One of:\n" + table, "examples": ["invalid_option"]},
                         message={"type": "string", "examples": ["overlap must be a number in [0, 0.9]"]},
                         details={"type": "object", "description": "Machine-readable specifics (e.g. `valid`)."}))


def job_error() -> Schema:
    return obj(["code", "message"], "Why the job failed (codes as in `Error`).", code=STR, message=STR,
               details={"type": "object"})


LEVEL = {**null(NUM), "description": "dB; null for digital silence (no level to measure)"}


def audio_features() -> Schema:
    mfcc = obj(["mean", "std"], mean=arr(NUM), std=arr(NUM))
    return obj(["rms_energy", "spectral_centroid_hz", "chroma_distribution"],
               "Measured features; all spectral values come from one STFT.",
               rms_energy=NUM, rms_dbfs=LEVEL, peak_dbfs=LEVEL, crest_factor_db=LEVEL,
               loudness_lufs=null(NUM), spectral_centroid_hz=NUM, spectral_bandwidth_hz=NUM,
               spectral_rolloff_hz=NUM, zero_crossing_rate=NUM, mfcc=mfcc,
               chroma_distribution={**arr(NUM, "12 pitch classes C..B summing to 1."), "minItems": 12,
                                    "maxItems": 12},
               dominant_pitch_class={**null(STR), "description": "null for digital silence"},
               silence_fraction=NUM,
               analysis_sample_rate={**INT, "description": "Hz: the rate the spectral features are measured at, "
                                     "whatever the file's (the result's `sample_rate`)."},
               warnings=arr(STR, "About the recording itself: clipped, DC offset."))


def file_result(required: tuple[str, ...], description: str, **properties: Any) -> Schema:
    """A result of one file: the shared fields and the job's own."""
    return obj(("files", *required), description, filename=STR, duration_seconds=NUM,
               sample_rate=INT, channels=INT, files=FILES, **properties)


def pitch_result() -> Schema:
    key = obj(["tonic", "mode", "confidence"], tonic=null(STR), mode=null({"enum": ["major", "minor"]}),
              label=STR, confidence=NUM, candidates=arr({"type": "object"}), changes=arr({"type": "object"}),
              opening=obj(["tonic", "mode", "label", "score"], "Present when the opening (the first 12 s after the "
                          "music starts), read alone, clearly names another key than the whole track (a warning "
                          "says so too).",
                          tonic=STR, mode={"enum": ["major", "minor"]}, label=STR, score=NUM))
    chord = obj(["start", "end", "label"], start=NUM, end=NUM, label={"type": "string", "examples": ["A:min"]})
    note = obj(["onset", "offset", "midi"], onset=NUM, offset=NUM, midi=INT, name={"type": "string",
                                                                               "examples": ["G4"]})
    f0 = obj(["hop_seconds", "hz", "voiced"], hop_seconds=NUM, start_seconds=NUM, hz=arr(NUM), voiced=arr(BOOL))
    return file_result(("filename",), "Key, tuning, chords, tempo, beats and melody (only those in `include`).",
                       key=key, tuning_cents=NUM,
                       tuning_note={"type": "string", "description": "Why there is no tuning (tuning_cents is then 0): "
                                    "silence, percussion or noise, a clip too short to tell (a key under 4 s, a "
                                    "tuning under 0.5 s), or speech."},
                       chords=arr(chord), tempo_bpm=null(NUM), tempo_confidence=NUM,
                       tempo_changes=arr(obj(["start", "end", "bpm"], start=NUM, end=NUM, bpm=NUM), description=(
                           "Where the beats run more than 8 % away from tempo_bpm for 4 beats or more: the stretches "
                           "from the first beat to the last, at tempo_bpm and away from it, each with its median "
                           "BPM; [] where the beats keep tempo_bpm.")),
                       beat_times=arr(NUM), downbeat_times=arr(NUM), time_signature=null(STR),
                       beats_per_bar=null(INT),
                       speech_segments={"type": "array", "items": arr(NUM), "description": "[start, end] s of each "
                                        "stretch of speech without music (with chords, tempo or beats): chords N, "
                                        "no melody notes; a track that is mostly speech gets no tempo or beats."},
                       speech_share={"type": "number", "description": "The share of the duration that is speech."},
                       melody=obj(["notes", "f0"], notes=arr(note), f0=f0), merged_with=MERGED_WITH)


PARTIAL = {**BOOL, "description": "A stopped job's result: the text written before a cancel (`finish_reason` canceled) "
           "or its time limit (time_limit: failed `time_limit_exceeded`), in `partial_...` files. Absent if finished."}


def gemma_result() -> Schema:
    return file_result(("filename", "model", "task", "analysis_summary", "audio_features"),
                       "The audio LLM's analysis or transcription of one file.",
                       model=STR, model_name=STR, task={"enum": ["transcribe", "analyze"]},
                       audio_features=ref("AudioFeatures"), analysis_summary=STR,
                       output_text_file=null(STR), output_json_file=null(STR), audio_input=BOOL,
                       model_sample_rate=null(INT), chunks=INT, chunk_seconds_max=null(NUM),
                       chunk_notes=arr({}), sections=arr({"type": "object"}), transcript_source=null(STR),
                       generate_calls=INT, finish_reason=null({"enum": STOPPED}),
                       content=content("Speech (analyze): described as a spoken recording; an answer that talks of "
                                       "music is warned of.", measured_here=True), speech_share=SPEECH_SHARE,
                       speech_source=SPEECH_SOURCE, speech_measured_seconds=SPEECH_MEASURED_SECONDS,
                       partial={**BOOL, "description": "A stopped analysis's result (`finish_reason` canceled, or "
                                "time_limit: failed `time_limit_exceeded`): its finished passes and the running one's "
                                "text, in `partial_analysis_<model>_<task>_<stem>.json|.txt`. Absent if finished."})


def demucs_result() -> Schema:
    return file_result(("model", "method", "stems", "format"), "Stems written as `<stem>_<file-stem>.<format>`.",
                       model=STR, method={"enum": ["demucs", "dsp"]}, stems=arr(STR),
                       format={"enum": ["wav", "flac", "mp3"]},
                       segment_seconds={**NUM, "description": "Seconds per window the method ran on (both methods)."},
                       overlap={**NUM, "description": "Fraction of a window shared with the next (both methods)."},
                       shifts={**null(INT), "description": "Random time shifts averaged: Demucs only, null for the "
                                                           "DSP methods (hpss, repet)."})


def whisper_result() -> Schema:
    return obj(["language", "text", "segments", "files"], "A transcript (segments and words in the JSON file).",
               language=null(STR), language_detected={**BOOL, "description": "false: the language was assumed."},
               duration_seconds=NUM, segments={"type": "integer", "description": "How many."}, words=INT, text=STR,
               model=STR, source={"enum": ["mix", "vocals"]}, files=FILES)


def lyrics_result() -> Schema:
    flagged = obj(["word"], word=STR, time=null(NUM), line=null(STR))
    return obj(["filename", "model", "analysis", "analysis_text", "explicit", "files"],
               "An LLM analysis of the words, from the session's transcript (made first when missing).",
               filename=STR, model=STR, model_choice=null(ref("ModelChoice")), language=null(STR),
               transcript_source=STR, lines=INT, words=INT,
               explicit=obj(["flagged", "words"], flagged=BOOL, words=arr(flagged), method=STR),
               analysis=obj(["themes", "mood", "narrative", "notable_lines"], themes=STR, mood=STR, narrative=STR,
                            notable_lines=STR),
               analysis_text=STR, finish_reason={"enum": STOPPED}, partial=PARTIAL,
               tokens_generated=INT,
               generation_seconds=NUM, grounded_on=arr(STR), warnings=arr(STR), image=null(STR),
               unheard_quotes=arr({**STR, "description": "A passage the analysis quotes that the transcript does "
                                                           "not hold (made up, or misremembered)."}),
               processing_seconds=NUM, options={"type": "object"}, cached=BOOL, files=FILES,
               content=content("Speech: the transcript was analysed as spoken words, not as a song's lyrics (a "
                               "warning says so).", measured_here=True), speech_share=SPEECH_SHARE,
               speech_source=SPEECH_SOURCE, speech_measured_seconds=SPEECH_MEASURED_SECONDS)


def compare_result() -> Schema:
    facts = obj(["file"], file=STR, key=null(STR), camelot=null(STR), tempo_bpm=null(NUM), metre=null(STR),
                loudness_lufs=null(NUM), brightness_hz=null(NUM), duration_seconds=null(NUM),
                content=content("Speech: compared as a spoken recording, not by key, tempo or mixing (a warning "
                                "says so).", measured_here=True), speech_share=SPEECH_SHARE,
                speech_source=SPEECH_SOURCE, speech_measured_seconds=SPEECH_MEASURED_SECONDS)
    pair = obj(["a", "b", "key", "tempo", "mixable"], a=STR, b=STR, key=STR,
               tempo=obj(["relation"], relation=STR, percent_apart=NUM, change_percent=NUM),
               loudness_difference_lu=NUM, brightness_ratio=NUM,
               mixable={**null(BOOL), "description": "null where a key or tempo is unmeasured and nothing "
                                                     "measured rules the pair out"})
    return obj(["files_compared", "tracks", "pairs", "comparison", "files"],
               "Two to five tracks: measured facts, computed relations, and a grounded LLM comparison.",
               files_compared=arr(STR), tracks=arr(facts), pairs=arr(pair), model=STR,
               model_choice=null(ref("ModelChoice")), comparison=STR,
               finish_reason={"enum": STOPPED}, partial=PARTIAL,
               warnings=arr(STR), grounded_on=arr(STR), tokens_generated=INT, generation_seconds=NUM,
               processing_seconds=NUM, options={"type": "object"}, files=FILES)


def batch_result() -> Schema:
    failure = obj(["filename", "code", "message"], filename=STR, code=STR, message=STR, details={"type": "object"})
    return obj(["batch", "results", "errors"], "A job over every upload of the session (no `file` given).",
               batch={"const": True}, results=arr({"type": "object"}, "One result per file, as for one file."),
               errors=arr(failure, "The files that failed (the job fails only if all did)."))


RESULTS = {"features": "FeaturesResult", "pitch": "PitchResult", "gemma_3n": "Gemma3nResult",
           "demucs": "DemucsResult", "whisper": "WhisperResult", "musicgen": "MusicgenResult",
           "probe": "ProbeResult", "model_load": "ModelLoadResult", "model_unload": "ModelUnloadResult",
           "generate": "GenerateResult", "lyrics": "LyricsResult", "compare": "CompareResult",
           "library_ask": "LibraryAnswer", "library_reindex": "ReindexResult"}
BATCHABLE = frozenset(name for name, t in JOB_TYPES.items() if t.uses_files)


def job_schema() -> Schema:
    """The public job record (jobs/store.py public_view); `result` is the shape of the job's type."""
    schema = obj(["job_id", "type", "method", "state", "progress", "stage", "created_at"],
                 "A job. `result` and `files` when it succeeded, `error` when it failed; a canceled batch's "
                 "`result` lists the files it had finished, a canceled generation's holds the text written so far, "
                 "as does an LLM job's failed `time_limit_exceeded` (`finish_reason` time_limit; not if killed).",
                 job_id=STR, owner=null(STR), session_id=null(STR), type={"enum": sorted(JOB_TYPES)}, method=METHOD,
                 state={"enum": sorted(STATES)}, progress={"type": "number", "minimum": 0, "maximum": 1},
                 stage=null(STR), created_at=null(TIME), started_at=STARTED_AT, first_started_at=FIRST_STARTED_AT,
                 finished_at=null(TIME), queue=null(STR), attempts=INT, request_id=null(STR),
                 jobs_ahead=JOBS_AHEAD, lost_attempts=LOST_ATTEMPTS, generation=GENERATION, eta=ETA,
                 input_files=arr(STR, "The session's uploads the job reads (a batch: every one when it was "
                                 "queued); empty for model and library jobs."),
                 result={"type": "object", "description": "The result of the job's `type` (see the *Result schemas)."},
                 files=arr(STR), error=ref("JobError"),
                 worker={**null(STR), "description": (
                     "Admins only, in GET /jobs and GET /jobs/{job_id}: the worker (Celery node name, `cpu@host`) "
                     "that runs or last ran the job; null before a worker took it. Absent for other callers."),
                     "examples": ["gpu@box1"]},
                 canceled_by={**null(STR), "description": (
                     "Present once the job is canceled: who asked. The owner's name (the owner canceled it), "
                     "`admin` (an admin who is not its owner), or `system` (the service: a probe nobody waited "
                     "for any more); null for a job canceled before this field existed."),
                     "examples": ["alice", "admin", "system"]},
                 partial_result={**ref("BatchResult"), "description": (
                     "A running batch's files finished so far: each result as its `filename` and `files` (the "
                     "whole result is in its JSON file and, at the end, in `result`), errors as the batch lists "
                     "them; absent once it has ended and before its first file is done. Each finished file is also "
                     "a `progress` event with `finished_file` on GET /jobs/<id>/events.")})
    schema["allOf"] = [{"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                        "then": {"properties": {"result": (
                            {"anyOf": [ref(RESULTS[name]), ref("BatchResult")]} if name in BATCHABLE
                            else ref(RESULTS[name]))}}} for name in sorted(RESULTS)]
    schema["examples"] = [{"job_id": "4f1c0b5e9d2a4c7f8e6b3a2d1c0f9e8d", "owner": "alice", "session_id": "demo",
                           "type": "features", "method": None, "state": "queued", "progress": 0.0, "stage": "queued",
                           "created_at": "2026-01-01T12:00:00.000+00:00", "started_at": None,
                           "first_started_at": None, "finished_at": None, "queue": "cpu", "attempts": 0,
                           "lost_attempts": [], "request_id": "a1b2c3d4e5f6",
                           "input_files": ["song.wav"]}]
    return schema


def accepted_schema() -> Schema:
    return obj(["job_id", "status_url", "state"], "The job was queued; follow it at `status_url`.",
               job_id=STR, status_url={"type": "string", "examples": ["/jobs/4f1c0b5e9d2a4c7f8e6b3a2d1c0f9e8d"]},
               state={"enum": sorted(STATES)}, type={"enum": sorted(JOB_TYPES)}, method=METHOD,
               input_files=arr(STR, "The uploads the job reads (none for model and library jobs)."),
               queue=null(STR), jobs_ahead=JOBS_AHEAD, eta=ETA)


def session_schemas() -> dict[str, Schema]:
    audio = obj(["name", "bytes"], "An upload with what decoding it found: audio (duration, rate, channels) or an "
                "image (album art: width, height).", name=STR, bytes=INT, modified=NUM,
                kind={"enum": ["audio", "image"], "description": "Absent for uploads of older versions (audio)."},
                format=STR, duration_seconds=NUM, sample_rate=INT, channels=INT, frames=INT, width=INT, height=INT,
                sha256={"type": "string", "description": "SHA-256 of the file's bytes (absent for uploads of older "
                        "versions): a client can tell a file it holds is already there."})
    stored = obj(["name", "bytes"], name=STR, bytes=INT, modified=NUM, upload_stem=null(
        {**STR, "description": "The stem (name without its extension) of the upload this result was made from, "
         "listed or deleted since, as its name tells (`pitch_x.json`, `no_vocals_x.wav`, "
         "`analysis_<model>_<task>_x.json`: `x`); null for a result of a job that read no one file (a comparison, "
         "generated music) or of a kind the server does not write. Absent from servers before it was added."}),
        partial={**BOOL, "description": "What a stopped job (canceled, or past its time limit: its `finish_reason` "
                 "says) had written, not a finished result: `partial_analysis_<model>_<task>_x.json|.txt`, "
                 "`partial_lyrics_x.*`, `partial_compare_<id>.*`; told by its name."})
    return {
        "UploadedFile": audio,
        "StoredFile": stored,
        "SessionCreated": obj(["session_id"], session_id={"type": "string", "examples": ["demo"]}),
        "Session": obj(["session_id", "files", "results", "jobs"], session_id=STR, owner=null(STR),
                       files=arr(ref("UploadedFile")), results=arr(ref("StoredFile")), jobs=arr(ref("Job")),
                       jobs_next_cursor=null({"type": "string", "description": "More jobs: GET /jobs?session_id="
                                              "<id>&cursor=<this> (an admin: with the same owner=)."})),
        "SessionSummary": obj(["session_id", "files", "results"], session_id=STR, owner=null(STR),
                              files=INT, results=INT, modified_at=null(TIME)),
        "SessionList": obj(["sessions", "next_cursor"], sessions=arr(ref("SessionSummary")),
                           next_cursor=null({"type": "string", "description": "Pass as `cursor` for the next page."}),
                           owner={**STR, "description": "Whose sessions these are: the caller, or an admin's "
                                  "`?owner=`."},
                           storage=obj(["used_bytes", "quota_bytes"], used_bytes=INT, quota_bytes=null(
                               {**INT, "description": "USER_STORAGE_MB of an ordinary user; null: no quota."}),
                               reserved_bytes={**INT, "description": "What the caller's queued and running jobs "
                                               "are expected to write; counted against the quota with used_bytes."})),
        "Uploaded": obj(["session_id", "files"], session_id=STR, files=arr(ref("UploadedFile"))),
        "SessionDeleted": obj(["session_id", "deleted"], session_id=STR, deleted={"const": True}),
        "FileDeleted": obj(["session_id", "name", "area", "deleted"], session_id=STR, name=STR,
                           area={"enum": ["uploads", "results"]}, deleted={"const": True}),
    }


def job_listing_schemas() -> dict[str, Schema]:
    delivery = obj(["id", "event", "url", "state", "attempts", "status_codes"], id=STR,
                   event={"enum": list(EVENTS)}, url=STR,
                   state={"enum": ["pending", "delivered", "failed", "superseded"],
                          "description": "superseded: a progress event not sent because its job had ended by then."},
                   attempts=INT,
                   status_codes=arr(null(INT), "The receiver's status of each attempt (null: no answer)."),
                   last_error=null(STR), created_at=NUM, delivered_at=null(NUM))
    return {
        "JobList": obj(["jobs", "next_cursor"], jobs=arr(ref("Job")), next_cursor=null(STR)),
        "WebhookList": obj(["job_id", "deliveries"], job_id=STR, deliveries=arr(delivery)),
        "WebhookSecret": obj(["user", "secret"], user=STR,
                             secret={"type": "string", "pattern": "^whsec_[A-Za-z0-9+/]+={0,2}$",
                                     "description": "The user's key, `whsec_<base64>` as Standard Webhooks "
                                                    "libraries read it."}),
        "SeparationModels": obj(["default", "models", "vocals_separation"], default=STR, models=arr(obj(
            ["name", "needs_weights", "present"], name=STR, needs_weights=BOOL, present=BOOL)),
            vocals_separation=obj(["model", "present"], "The separation a whisper job of source `vocals` runs "
                                  "first on a file with no vocal stem (`VOCALS_SEPARATION_MODEL`), and whether "
                                  "its weights are here (false: such a job is a 409).", model=STR, present=BOOL)),
        "WhisperModels": obj(["default", "models"], "`default`: the model a request without `model` runs.",
                             default=STR, models=arr(obj(["name", "present"], name=STR, present=BOOL))),
        "WebhookCheck": obj(["webhook", "events"], webhook=STR,
                            events=arr({"enum": ["start", "progress", "completed"]}, "The events it would get.")),
        "TokenInfo": obj(["id", "user", "name", "created_at"], id=STR, user=STR, name=STR, created_at=STR),
        "TokenCreated": obj(["id", "user", "name", "created_at", "token"], id=STR, user=STR, name=STR,
                            created_at=STR, token={"type": "string", "pattern": "^ma_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$"}),
        "TokenList": obj(["tokens"], tokens=arr(ref("TokenInfo"))),
        "TokenRevoked": obj(["id", "revoked"], id=STR, revoked={"const": True}),
        "CancelAnswer": obj(["job_id", "state"], job_id=STR, state={"enum": ["canceled", "cancel_requested"]}),
        "ProbeAnswer": obj(["queue", "ok", "job_id"], "ok: a worker ran the no-op job within `wait`. `worker` "
                           "and `pid` (the worker that answered) are given to admins only, null for other users.",
                           queue={"enum": ["cpu", "gpu"]}, ok=BOOL, job_id=STR, round_trip_ms=NUM,
                           worker=null(STR), pid=null(INT), message=STR),
        "ModelJobFailed": obj(["error", "job_id"], "A model job that failed within `wait`: its error.",
                              error=ref("JobError"), job_id=STR,
                              result={**ref("GenerateResult"), "description": "A generation stopped by its time "
                                      "limit: the text it had written (`finish_reason` time_limit); else absent."}),
        "ModelJobPending": obj(["job_id", "status_url", "state"], "Still running after `wait`: follow the job.",
                               job_id=STR, status_url=STR, state={"enum": sorted(STATES)}),
    }


def job_event() -> Schema:
    """One event of GET /jobs/<id>/events. In OpenAPI 3.1 the schema of a text/event-stream answer describes each
    event (what 3.2 names `itemSchema`): it had said `type: string`, and schemathesis found every stream's first event
    (an object with `event`, `id`, `data`) not a string."""
    change = obj(["state", "progress", "stage"], "A `state` or `progress` event's data (a batch's progress also "
                 "`finished_file`, a stream joined midway also `partial_result`; a queued job's `state` events "
                 "`jobs_ahead`; a logged `state` event the record's `attempts`: `queued` with 1 or more, or "
                 "`running` with more than 1, is the retry of a lost attempt; a text generation's progress "
                 "`generation`, as in the record; a progress event the job's `eta` as it was at that report).",
                 state={"enum": sorted(STATES)}, progress=NUM, stage=STR, jobs_ahead=JOBS_AHEAD, generation=GENERATION,
                 attempts={"type": "integer", "minimum": 0}, eta=ETA)
    return obj(["event", "data"], "One Server-Sent Event: `state` and `progress` carry the job's state, progress "
               "and stage, the last, `done`, the job record exactly as GET /jobs/<id> returns it. `id` (`<ms>-<seq>`) "
               "is what `Last-Event-ID` resumes after; `: keep-alive` comments are not events. While the job is "
               "queued, a `state` event without an `id` tells its new place (`jobs_ahead`) when it moves (looked "
               "at every 5 s): it is not in the job's log, and a reconnect is told its place afresh.",
               event={"enum": ["state", "progress", "done"]},
               id={"type": "string", "pattern": "^[0-9]+-[0-9]+$"},
               data={"type": "string", "contentMediaType": "application/json",
                     "contentSchema": {"anyOf": [ref("Job"), change]}},
               retry={"type": "integer", "minimum": 0})


def component_schemas() -> dict[str, Schema]:
    return {
        "Error": error_schema(),
        "JobError": job_error(),
        "Job": job_schema(),
        "JobEvent": job_event(),
        "JobAccepted": accepted_schema(),
        **job_listing_schemas(),
        **session_schemas(),
        **status_schemas(),
        "AudioFeatures": audio_features(),
        "FeaturesResult": file_result(("filename", "audio_features"), "Audio features of one file.",
                                      audio_features=ref("AudioFeatures")),
        "PitchResult": pitch_result(),
        "Gemma3nResult": gemma_result(),
        "DemucsResult": demucs_result(),
        "WhisperResult": whisper_result(),
        "MusicgenResult": musicgen_result(),
        "ProbeResult": obj(["worker", "pid"], "Null in a job record: POST /jobs/probe names them to admins.",
                           worker=null(STR), pid=null(INT)),
        "GenerateResult": generate_result(),
        "ModelLoadResult": load_result(),
        "ModelUnloadResult": unload_result(),
        "BatchResult": batch_result(),
        "LyricsResult": lyrics_result(),
        "CompareResult": compare_result(),
        **library_schemas(),
        "ModelChoice": obj(["model", "reason"], "Which model `auto` chose, and why.", model=STR, reason=STR),
    }

