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


def content(more: str) -> Schema:
    """`content`: what the session's music analysis measured a recording as (worker/audio_llm/speech.py), in the
    lyrics, compare and library answers beside `speech_share`, and what it means to the answer it is in (`more`)."""
    return {"anyOf": [{"enum": ["speech", "music"]}, {"type": "null"}],
            "description": "speech: the music analysis (pitch) found a speaking voice without music in half of the "
                           "recording or more; music: it did not; null: no music analysis of the file (or one "
                           f"from before it measured speech). {more}"}


SPEECH_SHARE = {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}],
                "description": "The share of the recording the music analysis found to be speech (null: not run)."}

FILES = arr(STR, "Names of the files the job wrote into the session's results.")
STOPPED = ["stop", "length", "canceled", "time_limit"]  # a result's finish_reason: time_limit, canceled: partial
