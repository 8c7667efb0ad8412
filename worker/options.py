"""Building frozen option dataclasses from request dictionaries."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from worker.errors import InvalidRequestError

T = TypeVar("T")


def options_from_dict(cls: type[T], d: dict[str, Any], *, what: str) -> T:
    """`cls(**d)` that refuses unknown keys (naming them) and treats a null as "the default".

    A null is kept only for fields whose default is None (e.g. `language`: null = detect).
    Validation stays with the class (`validate()`), which the caller runs.
    """
    if not isinstance(d, dict):
        raise InvalidRequestError(f"{what} options must be a JSON object")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise InvalidRequestError(f"unknown {what} option(s): {', '.join(unknown)}",
                                  details={"valid": sorted(fields)})
    return cls(**{k: v for k, v in d.items() if v is not None or fields[k].default is None})
