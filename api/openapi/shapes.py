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
