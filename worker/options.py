"""One options protocol for every job type, and the numeric checks the option classes share.

Every job's options are a frozen dataclass deriving from `JobOptions`:

    options = SeparationOptions.from_request(body, settings=config)   # the route: 400 before queueing
    params = {"files": [...], "options": options.to_dict()}            # what the job record stores
    options = SeparationOptions.from_request(params["options"], settings=config)  # the worker: same call

`from_request` refuses unknown keys (naming them), treats a null as "the default", maps the
class' aliases, then runs `validate(settings)`, the one validator of each class. `settings`
(the app config) is given where a check depends on the installation (local model folders);
validation never loads a model. Nothing here imports numpy, torch or librosa.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from worker.errors import InvalidRequestError

Settings = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class JobOptions:
    """Base of every job's option dataclass (see the module docstring)."""

    # request key -> field name, for names the user's API accepts besides the field's own
    ALIASES: ClassVar[Mapping[str, str]] = {}
    # what the options are called in error messages ("separation options ...")
    WHAT: ClassVar[str] = "job"

    @classmethod
    def from_request(cls, body: Mapping[str, Any] | None, *, settings: Settings | None = None) -> Self:
        """Validated options from a request body (minus the route's own keys) or a stored `to_dict()`."""
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise InvalidRequestError(f"{cls.WHAT} options must be a JSON object", code="invalid_option")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in body if k not in fields and k not in cls.ALIASES)
        if unknown:
            raise InvalidRequestError(f"unknown {cls.WHAT} option(s): {', '.join(map(str, unknown))}",
                                      code="unknown_option", details={"unknown": unknown, "valid": sorted(fields)})
        kwargs: dict[str, Any] = {}
        for key, value in body.items():
            name = cls.ALIASES.get(key, key)
            if name in kwargs and key != name:  # the field's own name wins over its alias
                continue
            # a null means "the default"; it is kept only where the default is None (e.g. language: detect)
            if value is not None or fields[name].default is None:
                kwargs[name] = value
        return cls(**cls.normalize(kwargs)).validate(settings)

    @classmethod
    def normalize(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Hook for canonical forms (lists to tuples, case) before the dataclass is built."""
        return kwargs

    def validate(self, settings: Settings | None = None) -> Self:
        """Raise InvalidRequestError (HTTP 400) for any bad value; return self."""
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, the form job records store and `from_request` reads back."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True)
class NoOptions(JobOptions):
    """For jobs that take none (model unload, probe): any key is refused."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def is_int(value: Any) -> bool:
    """An integer that is not a bool (JSON true would pass isinstance(x, int))."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_number(name: str, value: Any, lo: float, hi: float, *, integer: bool = False,
                 lo_open: bool = False) -> None:
    """InvalidRequestError unless `value` is a number (an integer if asked) in [lo, hi] ((lo, hi] if lo_open)."""
    ok = is_int(value) if integer else is_number(value)
    if ok:
        ok = (lo < value if lo_open else lo <= value) and value <= hi
    if not ok:
        kind = "an integer" if integer else "a number"
        bracket = "(" if lo_open else "["
        raise InvalidRequestError(f"{name} must be {kind} in {bracket}{_fmt(lo)}, {_fmt(hi)}]", code="invalid_option",
                                  details={"option": name, "min": lo, "max": hi})


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def check_choice(name: str, value: Any, choices: tuple[str, ...] | list[str], *, code: str = "invalid_option"
                 ) -> None:
    """InvalidRequestError listing `choices` unless `value` is one of them."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidRequestError(f"{name} must be one of {', '.join(choices)}, not {value!r}", code=code,
                                  details={"option": name, "valid": list(choices)})


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{name} must be true or false", code="invalid_option", details={"option": name})


def check_text(name: str, value: Any, *, max_chars: int, optional: bool = True, non_empty: bool = False) -> None:
    """A string of at most `max_chars` characters (None allowed when `optional`)."""
    if value is None and optional:
        return
    if not isinstance(value, str) or len(value) > max_chars or (non_empty and not value.strip()):
        what = "a non-empty text" if non_empty else "a string"
        raise InvalidRequestError(f"{name} must be {what} of at most {max_chars} characters", code="invalid_option",
                                  details={"option": name})


def check_seed(value: Any) -> None:
    if value is not None:
        check_number("seed", value, 0, 2**63 - 1, integer=True)
