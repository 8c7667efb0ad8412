"""Options of the music analysis ("Pitch Analysis") job. Light: the API imports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from worker.options import JobOptions, option

STAGES = ("key", "chords", "tempo", "beats", "melody", "tuning")


@dataclass(frozen=True)
class PitchOptions(JobOptions):
    """What to compute. `include` is a subset of STAGES; the default is all of them.

    Some stages need others internally (chords are aligned to beats, the key is read on a
    tuning-corrected chroma); those run anyway, `include` only decides what is reported.
    """

    WHAT: ClassVar[str] = "pitch"

    include: tuple[str, ...] = option(STAGES, "The analyses to report (one name or a list); all by default.",
                                      choices=STAGES, non_empty=True, unique=True, one_or_list=True,
                                      example=["key", "tempo"])

    @classmethod
    def normalize(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        include = kwargs.get("include")
        if isinstance(include, str):  # one stage may be named alone
            include = (include,)
        if isinstance(include, list | tuple):
            include = tuple(include)
            # only names can be put in canonical order; anything else is left for the field check's 400
            if (all(isinstance(s, str) for s in include) and set(include) <= set(STAGES)
                    and len(set(include)) == len(include)):
                include = tuple(s for s in STAGES if s in include)  # equal requests give equal options
            kwargs["include"] = include
        return kwargs

    def wants(self, stage: str) -> bool:
        return stage in self.include
