"""Options of a text generation (POST /api/v2/models/generate, and the passes of the audio-LLM job).

Light: the API imports it. The conversation (`system`, `messages`, `prompt`) is checked here so a
malformed chat is a 400 before anything is queued; the worker's `generate.generate` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from config import MODEL_REGISTRY
from worker.errors import InvalidRequestError
from worker.llm.weights import registry_entry
from worker.options import JobOptions, Settings, check_number, check_seed, check_text

MAX_NEW_TOKENS = 8192  # tokens; an upper bound for one request, models stop earlier at their context
DEFAULT_NEW_TOKENS = 256
MAX_TEMPERATURE = 2.0
MAX_PROMPT_CHARS = 2_000_000  # characters over all messages: a guard against absurd bodies
ROLES = ("system", "user", "assistant")
CONTENT_TYPES = ("text", "audio", "image")



@dataclass(frozen=True)
class GenerateOptions(JobOptions):
    """One generation request. `max_length` counts new tokens (the field name of the user's API)."""

    WHAT: ClassVar[str] = "generate"
    ALIASES: ClassVar[Mapping[str, str]] = {"max_new_tokens": "max_length"}

    prompt: str | None = None
    messages: tuple[Mapping[str, Any], ...] | None = None  # chat turns; the last one must be the user's
    system: str | None = None
    max_length: int = DEFAULT_NEW_TOKENS
    temperature: float = 0.7  # 0 = greedy (deterministic)
    top_p: float = 0.95
    seed: int | None = None
    model_type: str | None = None  # None: the resident model, else DEFAULT_MODEL

    @classmethod
    def normalize(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        messages = kwargs.get("messages")
        if messages is not None:
            if not isinstance(messages, list | tuple):
                raise InvalidRequestError("messages must be a list of {role, content} objects", code="invalid_option")
            kwargs["messages"] = tuple(messages)
        return kwargs

    def validate(self, settings: Settings | None = None) -> GenerateOptions:
        """Raise InvalidRequestError for any out-of-range or mistyped field (the model_type is the manager's)."""
        for name in ("prompt", "system", "model_type"):
            check_text(name, getattr(self, name), max_chars=MAX_PROMPT_CHARS)
        check_number("max_length", self.max_length, 1, MAX_NEW_TOKENS, integer=True)
        check_number("temperature", self.temperature, 0.0, MAX_TEMPERATURE)
        check_number("top_p", self.top_p, 0.0, 1.0, lo_open=True)
        check_seed(self.seed)
        conversation = self.conversation()
        total_chars = sum(len(text_of(m["content"])) for m in conversation)
        media = sum(count_parts(conversation, kind) for kind in ("audio", "image"))
        if total_chars == 0 and media == 0:
            raise InvalidRequestError("a non-empty prompt or messages is required", code="invalid_option")
        if total_chars > MAX_PROMPT_CHARS:
            raise InvalidRequestError(f"the prompt is over {MAX_PROMPT_CHARS} characters", code="invalid_option")
        return self

    def conversation(self) -> list[dict[str, Any]]:
        """The chat turns: `system`, then `messages`, then `prompt` as a last user turn (checked)."""
        turns: list[dict[str, Any]] = []
        if self.system:
            turns.append({"role": "system", "content": self.system})
        for i, message in enumerate(self.messages or ()):
            if not isinstance(message, Mapping) or message.get("role") not in ROLES or "content" not in message:
                raise InvalidRequestError(f"messages[{i}] must be {{role: {'|'.join(ROLES)}, content}}")
            _check_content(message["content"], where=f"messages[{i}].content")
            if message["role"] == "system" and (turns or i > 0):
                raise InvalidRequestError("a system message may only come first (or use `system`)")
            turns.append({"role": message["role"], "content": message["content"]})
        if self.prompt:
            turns.append({"role": "user", "content": self.prompt})
        if not turns:
            raise InvalidRequestError("a non-empty prompt or messages is required")
        if turns[-1]["role"] != "user":
            raise InvalidRequestError("the conversation must end with a user turn (prompt or messages)")
        return turns

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def _check_content(content: Any, *, where: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not content:
        raise InvalidRequestError(f"{where} must be a string or a non-empty list of parts")
    for part in content:
        if not isinstance(part, Mapping) or part.get("type") not in CONTENT_TYPES:
            raise InvalidRequestError(f"{where}: each part needs type {'|'.join(CONTENT_TYPES)}")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise InvalidRequestError(f"{where}: a text part needs a string `text`")


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


def count_parts(conversation: list[dict[str, Any]], kind: str) -> int:
    return sum(1 for m in conversation if not isinstance(m["content"], str)
               for p in m["content"] if p.get("type") == kind)


@dataclass(frozen=True)
class ModelLoadOptions(JobOptions):
    """POST /api/v2/models/load: which registered LLM to make resident."""

    WHAT: ClassVar[str] = "model load"

    model_type: str | None = None

    def validate(self, settings: Settings | None = None) -> ModelLoadOptions:
        registry_entry(str(self.model_type), MODEL_REGISTRY)  # 400 listing the valid ones
        return self
