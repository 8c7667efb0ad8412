"""The library's routes (GET /library/..., POST /library/ask and /library/reindex), declared as operations.py
declares the others, which takes them in."""

from __future__ import annotations

from jobs.types import JOB_TYPES

from .declarations import CREATED, CURSOR, MODEL_ANSWERS, MODEL_ERRORS, MODEL_WAIT, OWNER, SESSION_ID, Ok, Op, Param
from .shapes import ref, with_job_id

LIBRARY_ERRORS = {400: "A filter, `limit` or `cursor` is not acceptable.",
                  503: "The library database is not reachable (`library_unavailable`).",
                  507: "The library database cannot be made or written: the disk is full (`insufficient_storage`)."}
NUMBER = {"type": "number"}
CONTENT = Param("content", {"enum": ["speech", "music", "silence"]}, "Tracks the music analysis measured as speech (a "
                "speaking voice without music in half of the track or more), as silence (nothing to analyse), or as "
                "music (neither); a track without one is none of them. "
                "Any other value: 400 `invalid_filter`.")
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
    CONTENT,
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
        {400: "`q` empty or over 500 characters, unknown `mode` (`invalid_query`), unknown `content` "
              "(`invalid_filter`), bad `limit` or `cursor`.",
         404: "`owner` not visible.", 503: LIBRARY_ERRORS[503]},
        query=(Param("q", {"type": "string", "minLength": 1, "maxLength": 500, "examples": ["river road"]},
                     "What to look for.", required=True),
               Param("mode", {"enum": ["lyrics", "semantic", "hybrid"], "default": "hybrid"},
                     "lyrics: phrase, then fuzzy line matches; semantic: embeddings of transcripts and analyses; "
                     "hybrid: reciprocal-rank fusion of both."),
               Param("content", CONTENT.schema, "Only hits whose track the music analysis measured as speech, or as "
                     "music (among the best 200 hits; a track without one is neither). Any other value: 400 "
                     "`invalid_filter`."),
               Param("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}, "Page size."),
               CURSOR, OWNER)),
    "POST /library/ask": Op(
        "Ask a question about your library (retrieval, then the LLM)", "library",
        {200: Ok("The answer, citations (track, line, time).", with_job_id("LibraryAnswer")), **MODEL_ANSWERS},
        {**MODEL_ERRORS, 404: "`owner` not visible.", 500: "The model failed (`model_error`), the job ran past the "
         "server's time limit (`time_limit_exceeded`: `result` beside `error` holds the answer written so far, "
         "`finish_reason` time_limit, `partial` true), or an internal error."},
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
