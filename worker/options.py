"""One options protocol for every job type: declared once, validated and described from the declaration.

Every job's options are a frozen dataclass deriving from `JobOptions`, its fields declared with
`option(default, "what it means", minimum=..., maximum=..., choices=...)`:

    options = SeparationOptions.from_request(body, settings=config)   # the route: 400 before queueing
    params = {"files": [...], "options": options.to_dict()}            # what the job record stores
    options = SeparationOptions.from_request(params["options"], settings=config)  # the worker: same call
    SeparationOptions.json_schema(settings=config)                      # the OpenAPI description

`from_request` refuses unknown keys (naming them), treats a null as "the default", maps the class'
aliases, then runs `validate(settings)`: every field is checked against its declaration (type, range,
choices, length), then the class' `check(settings)` runs the rules a declaration cannot say (one field
depending on another, names that depend on what is installed). `settings` (the app config) is given
where a check depends on the installation; validation never loads a model. Nothing here imports
numpy, torch or librosa.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

from worker.errors import InvalidRequestError

Settings = Mapping[str, Any]
MAX_NAMED_UNKNOWN = 20  # unknown option names an error lists (details.unknown_count has them all)
MAX_KEY_CHARS = 64  # of each name listed
Choices = Sequence[str] | Callable[[Settings | None], Sequence[str]]  # fixed, or what this install offers


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a field accepts, beyond its type: the single source for validation and the JSON schema."""

    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # (minimum, maximum] instead of [minimum, maximum]
    choices: Choices | None = None  # for a string field, or the items of a list field
    max_length: int | None = None  # characters of a string, items of a list
    non_empty: bool = False  # a string with some non-space character, a list with an item
    unique: bool = False  # a list whose items differ
    items_schema: Mapping[str, Any] | None = None  # the JSON schema of a list's items, where no type says it
    one_or_list: bool = False  # a list field that also takes one item alone (its `normalize` makes it a list)
    example: Any = None


def option(default: Any, description: str, *, required: bool = False, **spec: Any) -> Any:
    """A dataclass field with its Spec (see the module docstring); `required`: the request must name it."""
    return dataclasses.field(default=default, metadata={"spec": Spec(description, **spec), "required": required})


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
        unknown = sorted(str(k) for k in body if k not in fields and k not in cls.ALIASES)
        if unknown:  # the accepted names: the fields and their aliases (max_new_tokens beside max_length)
            # at most MAX_NAMED_UNKNOWN named (and each cut short): a stranger's body of 60,000 unknown keys got a
            # 998 KB error listing them all
            named = [k[:MAX_KEY_CHARS] for k in unknown[:MAX_NAMED_UNKNOWN]]
            more = f" and {len(unknown) - len(named)} more" if len(unknown) > len(named) else ""
            raise InvalidRequestError(f"unknown {cls.WHAT} option(s): {', '.join(named)}{more}", code="unknown_option",
                                      details={"unknown": named, "unknown_count": len(unknown),
                                               "valid": sorted({*fields, *cls.ALIASES})})
        for alias, name in cls.ALIASES.items():  # one value under two names: which one was meant is unclear
            given = [body[k] for k in (alias, name) if body.get(k) is not None]  # a null is no value (the default)
            if len(given) == 2 and given[0] != given[1]:
                raise InvalidRequestError(f"{alias} and {name} are the same option: give one of them",
                                          code="invalid_option")
        kwargs: dict[str, Any] = {}
        for key, value in body.items():
            name = cls.ALIASES.get(key, key)
            if name in kwargs and (key != name or value is None):  # the same value under both names, or a null
                continue
            # a null means "the default"; it is kept only where the default is None (e.g. language: detect)
            if value is not None or fields[name].default is None:
                kwargs[name] = value
        hints = _hints(cls)
        for name, value in kwargs.items():
            # JSON has one number type and JSON Schema calls 5.0 an integer, as the description's `integer` says: a
            # whole float is its int (`"seed": 737.0` from a client that writes every number as a double had been 400)
            if (_unwrap_optional(hints[name])[0] is int and isinstance(value, float) and value.is_integer()):
                kwargs[name] = int(value)
        for name, f in fields.items():  # named, and not null: "unknown model_type ''" told no one what was missing
            if f.metadata.get("required") and kwargs.get(name) is None:
                raise _missing(name, f.metadata["spec"], settings)
        return cls(**cls.normalize(kwargs)).validate(settings)

    @classmethod
    def normalize(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Hook for canonical forms (lists to tuples, case) before the dataclass is built."""
        return kwargs

    def validate(self, settings: Settings | None = None) -> Self:
        """Raise InvalidRequestError (HTTP 400) for any bad value; return self."""
        self.check_fields(settings)
        self.check(settings)
        return self

    def check_fields(self, settings: Settings | None, *, skip: tuple[str, ...] = ()) -> None:
        """Every field (but those in `skip`) against its declaration."""
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            spec = f.metadata.get("spec")
            if spec is not None and f.name not in skip:
                check_field(f.name, getattr(self, f.name), hints[f.name], spec, settings)

    def check(self, settings: Settings | None) -> None:
        """The rules a field's declaration cannot say; raise InvalidRequestError."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, the form job records store and `from_request` reads back."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def json_schema(cls, settings: Settings | None = None) -> dict[str, Any]:
        """The JSON schema (OpenAPI 3.1) of a request body holding these options."""
        hints = _hints(cls)
        properties = {}
        for f in dataclasses.fields(cls):
            spec = f.metadata.get("spec")
            if spec is not None:
                # a null is the default (from_request): the schema accepts it where the option is not required,
                # and refuses it where it is (a 400 naming it), whatever the field's type allows
                base, _ = _unwrap_optional(hints[f.name])
                hint = base if f.metadata.get("required") else base | None
                properties[f.name] = field_schema(hint, spec, f.default, settings)
        for alias, name in cls.ALIASES.items():
            if name in properties:
                properties[alias] = {**properties[name], "description": f"Another name of `{name}`."}
        required = [f.name for f in dataclasses.fields(cls) if f.metadata.get("required")]
        schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            schema["required"] = required
        return schema


@dataclasses.dataclass(frozen=True)
class NoOptions(JobOptions):
    """For jobs that take none (model unload, probe): any key is refused."""


# -- checks -------------------------------------------------------------------------------------------------

def is_int(value: Any) -> bool:
    """An integer that is not a bool (JSON true would pass isinstance(x, int))."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


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


def check_choice(name: str, value: Any, choices: Sequence[str], *, code: str = "invalid_option") -> None:
    """InvalidRequestError listing `choices` unless `value` is one of them."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidRequestError(f"unknown {name} {value!r}; valid: {', '.join(choices)}", code=code,
                                  details={"option": name, "valid": list(choices)})


def _missing(name: str, spec: Spec, settings: Settings | None) -> InvalidRequestError:
    details: dict[str, Any] = {"option": name}
    if spec.choices is not None:
        details["valid"] = list(spec.choices(settings) if callable(spec.choices) else spec.choices)
    return InvalidRequestError(f"{name} is required ({spec.description.rstrip('.')})", code="invalid_option",
                               details=details)


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{name} must be true or false", code="invalid_option", details={"option": name})


# a terminal escape sequence: CSI (ESC [ ... final byte, colours and cursor moves), OSC (ESC ] ... BEL or ESC \\)
# and the two-byte ones; their printable bytes ("[31m") say nothing either
ANSI_ESCAPE_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def printable_chars(text: str) -> int:
    """How many characters of `text` are neither whitespace nor control characters, nor in a terminal escape
    sequence: a text of NULs or escape codes alone says nothing (a stranger's prompt of NULs got an answer of
    emoji, and another's "\\x1b[31m\\x1b[0m" one too)."""
    return sum(1 for ch in ANSI_ESCAPE_RE.sub("", text) if ch.isprintable() and not ch.isspace())


def check_text(name: str, value: Any, *, max_chars: int, optional: bool = True, non_empty: bool = False) -> None:
    """A string of at most `max_chars` characters (None allowed when `optional`)."""
    if value is None and optional:
        return
    if not isinstance(value, str) or len(value) > max_chars or (non_empty and not printable_chars(value)):
        what = "a non-empty text" if non_empty else "a string"
        raise InvalidRequestError(f"{name} must be {what} of at most {max_chars} characters", code="invalid_option",
                                  details={"option": name})


def check_seed(value: Any) -> None:
    if value is not None:
        check_number("seed", value, 0, 2**63 - 1, integer=True)


def choices_of(spec: Spec, settings: Settings | None) -> list[str] | None:
    if spec.choices is None:
        return None
    # once each, in their order: a schema's enum must not repeat a value (demucs' stems name vocals twice)
    return list(dict.fromkeys(spec.choices(settings) if callable(spec.choices) else spec.choices))


def check_field(name: str, value: Any, hint: Any, spec: Spec, settings: Settings | None) -> None:
    """Check `value` against the field's type `hint` and its Spec."""
    base, nullable = _unwrap_optional(hint)
    if value is None and nullable:
        return
    if base is bool:
        check_bool(name, value)
    elif base in (int, float):
        lo = -math.inf if spec.minimum is None else spec.minimum
        hi = math.inf if spec.maximum is None else spec.maximum
        check_number(name, value, lo, hi, integer=base is int, lo_open=spec.exclusive_minimum)
    elif base is str:
        choices = choices_of(spec, settings)
        if choices is not None:
            check_choice(name, value, choices)
        else:
            check_text(name, value, max_chars=spec.max_length or 10**6, optional=False, non_empty=spec.non_empty)
    elif _origin(base) is tuple:
        _check_items(name, value, spec, settings)


def _check_items(name: str, value: Any, spec: Spec, settings: Settings | None) -> None:
    if not isinstance(value, tuple) or (spec.non_empty and not value):
        raise InvalidRequestError(f"{name} must be a {'non-empty ' if spec.non_empty else ''}list",
                                  code="invalid_option", details={"option": name})
    if spec.max_length is not None and len(value) > spec.max_length:
        raise InvalidRequestError(f"{name} holds at most {spec.max_length} items", code="invalid_option")
    choices = choices_of(spec, settings)
    if choices is not None:
        bad = [v for v in value if not isinstance(v, str) or v not in choices]
        if bad:
            # "allowed": the name the pitch route's clients already read
            raise InvalidRequestError(f"unknown {name} item(s) {bad!r}; valid: {', '.join(choices)}",
                                      code="invalid_option", details={"option": name, "valid": choices,
                                                                      "allowed": choices})
    if spec.unique and len(set(map(repr, value))) != len(value):
        raise InvalidRequestError(f"{name} lists an item twice", code="invalid_option", details={"option": name})


# -- schema -------------------------------------------------------------------------------------------------

def field_schema(hint: Any, spec: Spec, default: Any, settings: Settings | None) -> dict[str, Any]:
    """The JSON schema of one field (OpenAPI 3.1: a nullable field is a type list with "null")."""
    base, nullable = _unwrap_optional(hint)
    schema: dict[str, Any] = {"description": spec.description}
    if base is bool:
        schema["type"] = "boolean"
    elif base in (int, float):
        schema["type"] = "integer" if base is int else "number"
        if spec.minimum is not None:
            schema["exclusiveMinimum" if spec.exclusive_minimum else "minimum"] = spec.minimum
        if spec.maximum is not None:
            schema["maximum"] = spec.maximum
    elif base is str:
        schema["type"] = "string"
        choices = choices_of(spec, settings)
        if choices is not None:
            schema["enum"] = choices
        if spec.max_length is not None and choices is None:
            schema["maxLength"] = spec.max_length
        if spec.non_empty and choices is None:
            schema["minLength"] = 1
    elif _origin(base) is tuple:
        array = _array_schema(base, spec, settings)
        # one item alone, or a list of them (a stranger read `type: array` and was surprised that "key" passed)
        schema.update({"anyOf": [array["items"], array]} if spec.one_or_list else array)
    else:  # a free-form JSON value (e.g. chat messages)
        schema["type"] = "object"
    if nullable and "anyOf" in schema:
        schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
    elif nullable:
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        schema["type"] = [schema["type"], "null"]
    if default is not dataclasses.MISSING and not isinstance(default, dataclasses.Field):
        schema["default"] = _jsonable(default)
    if spec.example is not None:
        schema["examples"] = [spec.example]
    return schema


def _array_schema(base: Any, spec: Spec, settings: Settings | None) -> dict[str, Any]:
    (item_hint, *_rest) = typing.get_args(base) or (Any,)
    choices = choices_of(spec, settings)
    if spec.items_schema is not None:
        items = dict(spec.items_schema)
    elif choices is not None:
        items = {"type": "string", "enum": choices}
    else:
        items = {"type": "string"} if item_hint is str else {"type": "object"}
    schema: dict[str, Any] = {"type": "array", "items": items}
    if spec.non_empty:
        schema["minItems"] = 1
    if spec.max_length is not None:
        schema["maxItems"] = spec.max_length
    if spec.unique:
        schema["uniqueItems"] = True
    return schema


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _origin(hint: Any) -> Any:
    return typing.get_origin(hint)


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """(the type, whether None is allowed) of `X | None` or `X`."""
    if _origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return (args[0] if len(args) == 1 else Any), len(args) < len(typing.get_args(hint))
    return hint, False


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
