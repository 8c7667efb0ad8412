"""Options of the comparison job (POST /process/compare/<session_id>). Light: the API imports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from worker.audio_llm.options import valid_models
from worker.llm.choice import AUTO
from worker.options import JobOptions, option

MIN_FILES, MAX_FILES = 2, 5


@dataclass(frozen=True)
class CompareOptions(JobOptions):
    WHAT: ClassVar[str] = "compare"

    model_variant: str = option(AUTO, "The language model, or auto: the best one this machine has for comparing.",
                                choices=lambda settings: [*valid_models(), AUTO])
    temperature: float = option(0.2, "0 = greedy (deterministic).", minimum=0.0, maximum=2.0)
    max_new_tokens: int = option(700, "Tokens of the comparison at most.", minimum=32, maximum=4096)
    seed: int | None = option(None, "For sampling (temperature > 0).", minimum=0, maximum=2**63 - 1)
