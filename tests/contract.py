"""Checks an answer against a schema of the OpenAPI description (api/openapi/schemas.py)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from api.openapi.schemas import component_schemas

_ROOT = {"components": {"schemas": component_schemas()}}  # what "#/components/schemas/X" refs resolve in


def assert_shape(name: str, instance: Any) -> None:
    """Fail listing every place where `instance` is not a `name` (e.g. "Job", "DemucsResult")."""
    assert name in _ROOT["components"]["schemas"], f"no schema {name!r}"
    validator = Draft202012Validator({**_ROOT, "$ref": f"#/components/schemas/{name}"})
    errors = [reason for e in validator.iter_errors(instance) for reason in _reasons(e)]
    assert not errors, f"not a {name}:\n" + "\n".join(errors[:20])


def _reasons(e: Any) -> list[str]:
    """The innermost failures (an anyOf's own message would print the whole instance): each branch's."""
    if e.context:
        return [reason for sub in e.context for reason in _reasons(sub)]
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"]


def assert_answer(spec: dict, method: str, path: str, status: int, body: Any) -> None:
    """`status` is an answer the description lists for the operation, and `body` matches its schema."""
    responses = spec["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} does not document {status}: {sorted(responses)}"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    errors = [reason for e in Draft202012Validator({"components": spec["components"], **schema}).iter_errors(body)
              for reason in _reasons(e)]
    assert not errors, f"{method} {path} {status}:\n" + "\n".join(errors[:20])
