"""Options of the music analysis ("Pitch Analysis") job. Light: the API imports it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from worker.errors import InvalidRequestError
from worker.options import JobOptions, Settings

STAGES = ("key", "chords", "tempo", "beats", "melody", "tuning")


@dataclass(frozen=True)
class PitchOptions(JobOptions):
    """What to compute. `include` is a subset of STAGES; the default is all of them.

    Some stages need others internally (chords are aligned to beats, the key is read on a
    tuning-corrected chroma); those run anyway, `include` only decides what is reported.
    """

    WHAT: ClassVar[str] = "pitch"

    include: tuple[str, ...] = field(default=STAGES)

    @classmethod
    def normalize(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        include = kwargs.get("include")
        if isinstance(include, str):  # one stage may be named alone
            include = (include,)
        if isinstance(include, list | tuple):
            include = tuple(include)
            if set(include) <= set(STAGES) and len(set(include)) == len(include):
                include = tuple(s for s in STAGES if s in include)  # equal requests give equal options
            kwargs["include"] = include
        return kwargs

    def validate(self, settings: Settings | None = None) -> PitchOptions:
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
