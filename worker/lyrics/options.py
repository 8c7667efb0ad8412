"""Options of the lyrics job (POST /process/lyrics/<session_id>). Light: the API imports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from worker.audio_llm.options import valid_models
from worker.llm.choice import AUTO
from worker.options import JobOptions, option
from worker.transcription.options import DEFAULT_MODEL as DEFAULT_WHISPER

MAX_NEW_TOKENS = 2048


@dataclass(frozen=True)
class LyricsOptions(JobOptions):
    WHAT: ClassVar[str] = "lyrics"

    model_variant: str = option(AUTO, "The language model, or auto: the best one this machine has for lyrics.",
                                choices=lambda settings: [*valid_models(), AUTO])
    whisper_model: str = option(DEFAULT_WHISPER, "The Whisper model that transcribes the words when the session "
                                                 "has no transcript of the file yet (from its vocal stem when one "
                                                 "exists).", max_length=64)
    temperature: float = option(0.2, "0 = greedy (deterministic).", minimum=0.0, maximum=2.0)
    max_new_tokens: int = option(600, "Tokens of the analysis at most.", minimum=32, maximum=MAX_NEW_TOKENS)
    seed: int | None = option(None, "For sampling (temperature > 0).", minimum=0, maximum=2**63 - 1)
    image: str | None = option(None, "An image of the session (album art) for models that see images.",
                               max_length=255)
