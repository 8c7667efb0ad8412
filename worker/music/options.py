"""Options of the music analysis ("Pitch Analysis") job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from worker.errors import InvalidRequestError

STAGES = ("key", "chords", "tempo", "beats", "melody", "tuning")


@dataclass(frozen=True)
class PitchOptions:
    """What to compute. `include` is a subset of STAGES; the default is all of them.

    Some stages need others internally (chords are aligned to beats, the key is read on a
    tuning-corrected chroma); those run anyway, `include` only decides what is reported.
    """

    include: tuple[str, ...] = field(default=STAGES)

    def validate(self) -> PitchOptions:
        if not isinstance(self.include, tuple) or not self.include:
            raise InvalidRequestError("include must be a non-empty list of stages", code="invalid_option",
                                      details={"allowed": list(STAGES)})
        unknown = [s for s in self.include if not isinstance(s, str) or s not in STAGES]
        if unknown:
            raise InvalidRequestError(f"unknown stage(s) in include: {unknown!r}", code="invalid_option",
                                      details={"allowed": list(STAGES)})
        if len(set(self.include)) != len(self.include):
            raise InvalidRequestError("include lists a stage twice", code="invalid_option")
        return self

    def wants(self, stage: str) -> bool:
        return stage in self.include

    @classmethod
    def from_request(cls, body: dict[str, Any] | None) -> PitchOptions:
        """Options from a request body; unknown keys other than "file" are refused."""
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise InvalidRequestError("the request body must be a JSON object", code="invalid_option")
        extra = set(body) - {"include", "file"}
        if extra:
            raise InvalidRequestError(f"unknown option(s): {sorted(extra)!r}", code="invalid_option")
        include = body.get("include")
        if include is None:
            return cls().validate()
        if isinstance(include, str):
            include = [include]
        if not isinstance(include, list | tuple):
            raise InvalidRequestError("include must be a list of stage names", code="invalid_option",
                                      details={"allowed": list(STAGES)})
        # keep the canonical order so equal requests give equal options
        opts = cls(include=tuple(include))
        opts.validate()
        return cls(include=tuple(s for s in STAGES if s in include))
