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
from worker.options import JobOptions, Settings, option, printable_chars

MAX_NEW_TOKENS = 8192  # tokens; an upper bound for one request, models stop earlier at their context
DEFAULT_NEW_TOKENS = 256
MAX_TEMPERATURE = 2.0
# characters over all messages: no more than a request body carries (api/process.py MAX_JSON_BYTES, 1 MiB; the
# spec had said 2,000,000, which no request could send: a stranger got 413)
MAX_PROMPT_CHARS = 1_000_000
ROLES = ("system", "user", "assistant")
CONTENT_TYPES = ("text", "audio", "image")
MESSAGE_SCHEMA = {  # one chat turn, as `conversation()` checks it
    "type": "object", "required": ["role", "content"],
    "properties": {"role": {"enum": list(ROLES)},
                   "content": {"oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {
                       "type": "object", "required": ["type"],
                       "properties": {"type": {"enum": list(CONTENT_TYPES)}, "text": {"type": "string"}}}}]}},
}



@dataclass(frozen=True)
class GenerateOptions(JobOptions):
    """One generation request. `max_length` counts new tokens (the field name of the user's API)."""

    WHAT: ClassVar[str] = "generate"
    ALIASES: ClassVar[Mapping[str, str]] = {"max_new_tokens": "max_length"}

    prompt: str | None = option(None, "The user's message (after `messages`, if any).", max_length=MAX_PROMPT_CHARS,
                                example="Describe a minor key in one sentence.")
    messages: tuple[Mapping[str, Any], ...] | None = option(
        None, "Chat turns before `prompt`; the conversation must end with a user turn.", items_schema=MESSAGE_SCHEMA)
    system: str | None = option(None, "A system message, first in the conversation.", max_length=MAX_PROMPT_CHARS)
    max_length: int = option(DEFAULT_NEW_TOKENS, "New tokens at most.", minimum=1, maximum=MAX_NEW_TOKENS)
    temperature: float = option(0.7, "0 = greedy (deterministic).", minimum=0.0, maximum=MAX_TEMPERATURE)
    top_p: float = option(0.95, "Nucleus sampling mass.", minimum=0.0, exclusive_minimum=True, maximum=1.0)
    seed: int | None = option(None, "For a reproducible sample.", minimum=0, maximum=2**63 - 1)
    model_type: str | None = option(None, "The model (loaded first if another is resident), or auto: the best "
                                          "one this machine has; null: the resident one, else DEFAULT_MODEL.",
                                    choices=[*sorted(MODEL_REGISTRY), "auto"])

    @classmethod
    def normalize(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        messages = kwargs.get("messages")
        if messages is not None:
            if not isinstance(messages, list | tuple):
                raise InvalidRequestError("messages must be a list of {role, content} objects", code="invalid_option")
            kwargs["messages"] = tuple(messages)
        return kwargs

    def check(self, settings: Settings | None) -> None:
        """The conversation as a whole: well-formed turns ending with the user's, some content, bounded."""
        conversation = self.conversation()
        total_chars = sum(len(text_of(m["content"])) for m in conversation)
        media = sum(count_parts(conversation, kind) for kind in ("audio", "image"))
        said = sum(printable_chars(text_of(m["content"])) for m in conversation)
        if said == 0 and media == 0:  # spaces alone are no question (a stranger's generated an essay), nor NULs
            raise InvalidRequestError("a non-empty prompt or messages is required (whitespace or control characters "
                                      "alone are empty)", code="invalid_option", details={"option": "prompt"})
        if total_chars > MAX_PROMPT_CHARS:
            raise InvalidRequestError(f"the prompt is over {MAX_PROMPT_CHARS} characters", code="invalid_option")

    def conversation(self) -> list[dict[str, Any]]:
        """The chat turns: `system`, then `messages`, then `prompt` as a last user turn (checked)."""
        turns: list[dict[str, Any]] = []
        if self.system:
            turns.append({"role": "system", "content": self.system})
        for i, message in enumerate(self.messages or ()):
            if not isinstance(message, Mapping) or message.get("role") not in ROLES or "content" not in message:
                raise InvalidRequestError(f"messages[{i}] must be {{role: {'|'.join(ROLES)}, content}}")
            _check_content(message["content"], where=f"messages[{i}].content")
            if message["role"] == "system" and self.system:  # it was first of `messages`: "only first" misled
                raise InvalidRequestError("give the system message once: in `system` or as the first of `messages`")
            if message["role"] == "system" and (turns or i > 0):
                raise InvalidRequestError("a system message may only come first (or use `system`)")
            turns.append({"role": message["role"], "content": message["content"]})
        if self.prompt:
            turns.append({"role": "user", "content": self.prompt})
        if not turns:  # the same answer as for a prompt of spaces (it was invalid_request here, invalid_option there)
            raise InvalidRequestError("a non-empty prompt or messages is required", code="invalid_option",
                                      details={"option": "prompt"})
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

    model_type: str | None = option(None, "The model to load.", required=True, choices=sorted(MODEL_REGISTRY),
                                    example="smollm2-135m")

    def check(self, settings: Settings | None) -> None:
        registry_entry(self.model_type or "", MODEL_REGISTRY)  # 400 listing the valid ones (from_request: none missing)
