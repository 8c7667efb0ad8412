"""Chat generation with a loaded LLM: options, prompt building, context check, generate, timing.

`GenerateOptions.from_request(body)` + `.validate()` run in the API before anything is enqueued;
`generate(llm, options)` runs in the worker. Audio (for the models that hear it) is passed as 16 kHz mono
float32 arrays, one per `{"type": "audio"}` item in the messages, and reaches the model through its
processor.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from worker.errors import ContextLengthError, InvalidRequestError
from worker.llm_loading import LoadedLLM

MAX_NEW_TOKENS = 8192  # tokens; an upper bound for one request, models stop earlier at their context
DEFAULT_NEW_TOKENS = 256
MAX_TEMPERATURE = 2.0
MAX_PROMPT_CHARS = 2_000_000  # characters over all messages: a guard against absurd bodies
PROGRESS_EVERY_TOKENS = 8  # how often generation reports progress (and so how soon a cancel is seen)
ROLES = ("system", "user", "assistant")
CONTENT_TYPES = ("text", "audio", "image")

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class GenerateOptions:
    """One generation request. `max_length` counts new tokens (the field name of the user's API)."""

    prompt: str | None = None
    messages: tuple[Mapping[str, Any], ...] | None = None  # chat turns; the last one must be the user's
    system: str | None = None
    max_length: int = DEFAULT_NEW_TOKENS
    temperature: float = 0.7  # 0 = greedy (deterministic)
    top_p: float = 0.95
    seed: int | None = None
    model_type: str | None = None  # None: the resident model, else DEFAULT_MODEL

    @classmethod
    def from_request(cls, body: Mapping[str, Any] | None) -> GenerateOptions:
        """Options from a JSON body (unknown keys are ignored; `max_new_tokens` is an alias of max_length)."""
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise InvalidRequestError("the request body must be a JSON object")
        kwargs: dict[str, Any] = {}
        for name in ("prompt", "system", "temperature", "top_p", "seed", "model_type", "max_length"):
            if body.get(name) is not None:
                kwargs[name] = body[name]
        if "max_length" not in kwargs and body.get("max_new_tokens") is not None:
            kwargs["max_length"] = body["max_new_tokens"]
        if body.get("messages") is not None:
            messages = body["messages"]
            if not isinstance(messages, list):
                raise InvalidRequestError("messages must be a list of {role, content} objects")
            kwargs["messages"] = tuple(messages)
        options = cls(**kwargs)
        options.validate()
        return options

    def validate(self, registry: Mapping[str, Any] | None = None) -> None:
        """Raise InvalidRequestError for any out-of-range or mistyped field (and an unknown model_type)."""
        for name in ("prompt", "system", "model_type"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidRequestError(f"{name} must be a string")
        if not _is_int(self.max_length) or not 1 <= self.max_length <= MAX_NEW_TOKENS:
            raise InvalidRequestError(f"max_length must be an integer in [1, {MAX_NEW_TOKENS}] (new tokens)")
        if not _is_number(self.temperature) or not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            raise InvalidRequestError(f"temperature must be a number in [0, {MAX_TEMPERATURE}]")
        if not _is_number(self.top_p) or not 0.0 < self.top_p <= 1.0:
            raise InvalidRequestError("top_p must be a number in (0, 1]")
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed < 2**63):
            raise InvalidRequestError("seed must be a non-negative integer")
        if registry is not None and self.model_type is not None and self.model_type not in registry:
            raise InvalidRequestError(f"unknown model_type {self.model_type!r}; valid: {', '.join(sorted(registry))}",
                                      details={"valid_model_types": sorted(registry)})
        conversation = self.conversation()
        total_chars = sum(len(_text_of(m["content"])) for m in conversation)
        media = sum(_count_parts(conversation, kind) for kind in ("audio", "image"))
        if total_chars == 0 and media == 0:
            raise InvalidRequestError("a non-empty prompt or messages is required")
        if total_chars > MAX_PROMPT_CHARS:
            raise InvalidRequestError(f"the prompt is over {MAX_PROMPT_CHARS} characters")

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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


def _count_parts(conversation: list[dict[str, Any]], kind: str) -> int:
    return sum(1 for m in conversation if not isinstance(m["content"], str)
               for p in m["content"] if p.get("type") == kind)


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def audio_sample_rate(llm: LoadedLLM) -> int | None:
    """The rate (Hz) the model's audio feature extractor expects, or None for models without audio."""
    if "audio" not in llm.modalities:
        return None
    extractor = getattr(llm.processor, "feature_extractor", None) or getattr(llm.processor, "audio_processor", None)
    return int(getattr(extractor, "sampling_rate", 16000))


def render_prompt(llm: LoadedLLM, conversation: list[dict[str, Any]]) -> str:
    """The chat-template text of `conversation` with the assistant turn opened."""
    tokenizer = llm.tokenizer
    if getattr(tokenizer, "chat_template", None) is None:
        # A base model without a template: a plain transcript the model can continue.
        lines = [f"{m['role']}: {_text_of(m['content'])}" for m in conversation]
        return "\n".join(lines) + "\nassistant:"
    try:
        return tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    except Exception as e:  # jinja raise_exception (roles must alternate, ...) is a TemplateError
        raise InvalidRequestError(f"the chat template of {llm.model_type} rejected the messages: {e}") from e


def prepare_inputs(llm: LoadedLLM, text: str, *, audio: Sequence[np.ndarray] | None = None,
                   images: Sequence[Any] | None = None) -> dict[str, Any]:
    """Tokenized (and, for audio/images, featurized) model inputs as a dict of (1, ...) tensors."""
    if llm.processor is llm.tokenizer:
        return dict(llm.tokenizer(text, return_tensors="pt", add_special_tokens=False))
    kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt", "add_special_tokens": False}
    if audio:
        kwargs["audio"] = [np.asarray(a, dtype=np.float32) for a in audio]
        kwargs["sampling_rate"] = audio_sample_rate(llm)
    if images:
        kwargs["images"] = list(images)
    return dict(llm.processor(**kwargs))


def generate(llm: LoadedLLM, options: GenerateOptions, *, audio: Sequence[np.ndarray] | None = None,
             images: Sequence[Any] | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Generate the assistant's reply to `options` with `llm`.

    audio: one (n,) float32 array at `audio_sample_rate(llm)` per audio part in the messages.
    Returns {response, model, tokens_generated, seconds, tokens_per_second, prompt_tokens, finish_reason,
    audio_input}. Raises ContextLengthError when the prompt leaves no room for one new token,
    InvalidRequestError for media the model cannot take. `progress` may raise JobCanceled (propagated).
    """
    import torch

    conversation = options.conversation()
    for kind, given in (("audio", audio), ("image", images)):
        parts, n_given = _count_parts(conversation, kind), len(given or ())
        if parts != n_given:
            raise InvalidRequestError(f"{parts} {kind} part(s) in the messages but {n_given} {kind} input(s)")
        if parts and kind not in llm.modalities:
            raise InvalidRequestError(f"{llm.model_type} does not take {kind} input "
                                      f"(modalities: {', '.join(llm.modalities)})")
    inputs = prepare_inputs(llm, render_prompt(llm, conversation), audio=audio, images=images)
    prompt_tokens = int(inputs["input_ids"].shape[-1])
    room = llm.context_length - prompt_tokens
    if room < 1:
        raise ContextLengthError(
            f"the prompt is {prompt_tokens} tokens; {llm.model_type} attends over {llm.context_length}",
            details={"prompt_tokens": prompt_tokens, "context_length": llm.context_length})
    max_new = min(options.max_length, room)

    model = llm.model
    inputs = {k: _to_device(v, model) for k, v in inputs.items()}
    config = _generation_config(llm, options, max_new)
    stopping = [_progress_criteria(progress, max_new)] if progress is not None else []
    if options.seed is not None:
        torch.manual_seed(options.seed)
    started = time.perf_counter()
    with torch.inference_mode():
        output = model.generate(**inputs, generation_config=config,
                                stopping_criteria=stopping or None)
    seconds = time.perf_counter() - started

    new_ids = output[0, prompt_tokens:].tolist()
    eos_ids = _eos_ids(config)
    pad = config.pad_token_id
    while new_ids and pad is not None and new_ids[-1] == pad and pad not in eos_ids:
        new_ids.pop()
    finish_reason = "stop" if new_ids and new_ids[-1] in eos_ids else "length"
    text = llm.tokenizer.decode(new_ids, skip_special_tokens=True).strip()
    if progress is not None:
        progress(1.0, "generated")
    return {
        "response": text,
        "model": llm.model_type,
        "tokens_generated": len(new_ids),
        "seconds": round(seconds, 3),
        "tokens_per_second": round(len(new_ids) / seconds, 2) if seconds > 0 else None,
        "prompt_tokens": prompt_tokens,
        "finish_reason": finish_reason,
        "audio_input": bool(audio),
    }


def _to_device(value: Any, model: Any) -> Any:
    import torch

    if not isinstance(value, torch.Tensor):
        return value
    if value.is_floating_point():
        return value.to(model.device, dtype=model.dtype)
    return value.to(model.device)


def _eos_ids(config: Any) -> set[int]:
    eos = config.eos_token_id
    if eos is None:
        return set()
    return {int(eos)} if isinstance(eos, int) else {int(e) for e in eos}


def _generation_config(llm: LoadedLLM, options: GenerateOptions, max_new: int):
    """The checkpoint's generation config with the request's sampling settings applied."""
    config = copy.deepcopy(llm.model.generation_config)
    config.max_new_tokens = max_new
    config.max_length = None
    if options.greedy:
        # The checkpoints' sampling defaults (top_k, top_p) are meaningless without sampling.
        config.do_sample, config.temperature, config.top_p, config.top_k = False, None, None, None
    else:
        config.do_sample, config.temperature, config.top_p = True, float(options.temperature), float(options.top_p)
    placeholders = placeholder_token_ids(llm)
    if placeholders:
        # A sampled media placeholder would make the next forward look for media it does not have.
        config.suppress_tokens = sorted(set(config.suppress_tokens or ()) | placeholders)
    if config.pad_token_id is None:
        eos = config.eos_token_id
        config.pad_token_id = llm.tokenizer.pad_token_id if llm.tokenizer.pad_token_id is not None else (
            eos[0] if isinstance(eos, list) else eos)
    return config


def placeholder_token_ids(llm: LoadedLLM) -> set[int]:
    """Ids of the image/audio soft tokens (and their begin markers) that only a processor may place."""
    ids: set[int] = set()
    sources = [llm.processor, llm.model.config]
    for source in sources:
        for name in ("image_token_id", "audio_token_id", "image_token_index", "boi_token_id", "boa_token_id",
                     "boi_token_index"):
            value = getattr(source, name, None)
            if isinstance(value, int) and value >= 0:
                ids.add(value)
    for sub in ("vision_config", "audio_config"):
        sub_config = getattr(llm.model.config, sub, None)
        for name in ("image_token_id", "audio_token_id"):
            value = getattr(sub_config, name, None) if sub_config is not None else None
            if isinstance(value, int) and value >= 0:
                ids.add(value)
    return ids if llm.processor is not llm.tokenizer else set()


def _progress_criteria(progress: Progress, max_new: int):
    """A stopping criterion that never stops: it reports progress, which may raise JobCanceled."""
    import torch
    from transformers import StoppingCriteria

    class ProgressCriteria(StoppingCriteria):
        calls = 0

        def __call__(self, input_ids, scores, **kwargs):
            self.calls += 1
            if self.calls % PROGRESS_EVERY_TOKENS == 0:
                progress(min(self.calls / max_new, 0.99), "generating")
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return ProgressCriteria()
