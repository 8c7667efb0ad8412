"""The building blocks of the API's JSON Schemas: references, objects, arrays, nullables and the scalar types."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: tuple[str, ...] | list[str] = (), description: str = "", **properties: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


def with_job_id(result: str) -> Schema:
    """A model route's 200: the job's result and the job's id (GET /jobs/<job_id>)."""
    return {"allOf": [ref(result), obj(["job_id"], job_id={"type": "string"})]}


def arr(items: Schema, description: str = "") -> Schema:
    return {"type": "array", "items": items, **({"description": description} if description else {})}


def null(schema: Schema) -> Schema:
    """`schema` or null (OpenAPI 3.1 has no `nullable`)."""
    return {"anyOf": [schema, {"type": "null"}]}


STR, INT, NUM, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}


def content(more: str, *, measured_here: bool = False, silence: bool = False) -> Schema:
    """`content`: what the session's music analysis measured a recording as (worker/audio_llm/speech.py), in the
    lyrics, compare, audio-LLM and library answers beside `speech_share`, and what it means to the answer it is in
    (`more`). `measured_here`: a job's answer, which measures the share itself where no pitch result holds one.
    `silence`: the library's, which also says "silence" (the pitch result found the file silent)."""
    said = ("speech: the music analysis (pitch), or the job itself where no pitch result holds a share "
            "(`speech_source`), found a speaking voice without music in half of the recording or more; music: it "
            "did not; null: not measured (the file too short, or undecodable). " if measured_here else
            "speech: the music analysis (pitch) found a speaking voice without music in half of the recording or "
            "more; music: it did not; null: no music analysis of the file (or one from before it measured speech). ")
    if silence:
        said = said.replace("; music: it did not;", "; silence: it found the file silent (nothing to analyse); music: "
                            "neither;")
    return {"anyOf": [{"enum": ["speech", "music", *(["silence"] if silence else [])]}, {"type": "null"}],
            "description": said + more}


# where a job's `speech_share` came from (worker/audio_llm/speech.py speech_origin): its lyrics, compare's tracks
# and the audio LLM's results (a share the job measured had been said to be the music analysis')
SPEECH_SOURCE = {"anyOf": [{"enum": ["pitch", "measured"]}, {"type": "null"}],
                 "description": "Where `speech_share` came from: pitch, the session's pitch result; measured, this "
                                "job measured it itself (no pitch result of the file held a share: the same speech "
                                "finder and beat check, on the file's first 10 minutes at most); null: no share."}
SPEECH_MEASURED_SECONDS = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}],
                           "description": "With speech_source measured: the seconds of the file the job measured "
                                          "(its first SPEECH_MEASURE_SECONDS, 600 by default, at most: "
                                          "the warnings say where the file is longer); null otherwise."}


SPEECH_SHARE = {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}],
                "description": "The share of the recording the music analysis found to be speech (null: not run)."}

FILES = arr(STR, "Names of the files the job wrote into the session's results.")
STOPPED = ["stop", "length", "canceled", "time_limit"]  # a result's finish_reason: time_limit, canceled: partial
