"""Options of the library's jobs (POST /library/ask, POST /library/reindex). Light: the API imports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from config import MODEL_REGISTRY
from worker.options import JobOptions, option

MAX_QUESTION_CHARS = 500


@dataclass(frozen=True)
class AskOptions(JobOptions):
    WHAT: ClassVar[str] = "library question"

    question: str = option("", "What to find in your library, e.g. 'which song is about a river at night?'",
                           required=True, non_empty=True, max_length=MAX_QUESTION_CHARS,
                           example="Which song is about walking by the river?")
    candidates: int = option(5, "Tracks retrieved (hybrid search) and shown to the model.", minimum=1, maximum=10)
    max_new_tokens: int = option(96, "Tokens of the answer at most.", minimum=8, maximum=512)
    model_type: str | None = option(None, "The LLM; null: the resident one, else DEFAULT_MODEL; auto: the best one "
                                          "for questions (the `ask` order) this machine has.",
                                   choices=[*sorted(MODEL_REGISTRY), "auto"])


@dataclass(frozen=True)
class ReindexOptions(JobOptions):
    WHAT: ClassVar[str] = "library rebuild"
