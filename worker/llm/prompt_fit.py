"""Whether a prompt fits a model's context, told before the model is loaded.

A stranger's prompt of 9,000 words to an unloaded SmolLM2 was refused `context_length_exceeded` only after the
model had been loaded (the job at 30 %): with a 12B model, minutes of loading, and another user's resident model
evicted, for a refusal. A prompt's tokens are counted by the model's tokenizer alone (its tokenizer files: no
weights) and its context read from its config.json, so `refuse_unfit` refuses before the resident model is touched.
The generation (generate.py) renders and checks the prompt the same way (`render_text`, `room_left`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from worker.errors import ContextLengthError, InvalidRequestError, MusicAnalyzerError
from worker.llm.loading import context_length_of, load_preprocessor
from worker.llm.options import GenerateOptions, count_parts, text_of
from worker.llm.weights import ensure_local_weights

log = logging.getLogger(__name__)


def render_text(tokenizer: Any, model_type: str, conversation: list[dict[str, Any]]) -> str:
    """The chat-template text of `conversation` with the assistant turn opened."""
    if getattr(tokenizer, "chat_template", None) is None:
        # A base model without a template: a plain transcript the model can continue.
        lines = [f"{m['role']}: {text_of(m['content'])}" for m in conversation]
        return "\n".join(lines) + "\nassistant:"
    # a turn of text parts alone is its text: a text model's template concatenates strings, and a stranger's
    # [{"type": "text", ...}] turn (valid by the API's own rules) failed with Python's TypeError text
    conversation = [m if isinstance(m["content"], str) or any(p.get("type") != "text" for p in m["content"])
                    else {**m, "content": text_of(m["content"])} for m in conversation]
    try:
        return tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    except Exception as e:  # jinja raise_exception (roles must alternate, ...) is a TemplateError
        # the template's own words say why (the cause goes to the log): Python's error text would be internals
        reason = str(e) if type(e).__name__ == "TemplateError" else "it could not render them"
        log.warning("%s: the chat template rejected the messages", model_type, exc_info=True)
        raise InvalidRequestError(f"the chat template of {model_type} rejected the messages: {reason[:200]}"
                                  ) from e


def room_left(prompt_tokens: int, context_length: int, model_type: str) -> int:
    """The tokens the context leaves after the prompt; ContextLengthError when not even one."""
    room = context_length - prompt_tokens
    if room < 1:
        raise ContextLengthError(
            f"the prompt is {prompt_tokens} tokens; {model_type} attends over {context_length}",
            details={"prompt_tokens": prompt_tokens, "context_length": context_length})
    return room


def refuse_unfit(entry: Mapping[str, Any], settings: Mapping[str, Any], options: GenerateOptions, *,
                 audio: Sequence[Any] | None = None, images: Sequence[Any] | None = None) -> None:
    """ContextLengthError when `options`' prompt cannot fit `entry`'s context, read from its files without its weights.

    Prompts with audio or images are left to the generation's own check after the load: their media tokens are
    counted by the processor from the media themselves, as the loaded model's processor does. Weights that are not
    there are left to the load, which records and reports it (ModelNotAvailableError)."""
    if audio or images:
        return
    conversation = options.conversation()
    if count_parts(conversation, "audio") or count_parts(conversation, "image"):
        return
    try:
        folder = ensure_local_weights(entry, settings)
    except MusicAnalyzerError:
        return
    from transformers import AutoConfig

    try:
        _, tokenizer = load_preprocessor(folder, entry)
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
    except Exception:  # unreadable files: the load says so as it always has (ModelError, recorded in the status)
        log.warning("%s: its tokenizer could not be read to measure the prompt", entry["model_type"], exc_info=True)
        return
    text = render_text(tokenizer, entry["model_type"], conversation)
    prompt_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    room_left(prompt_tokens, context_length_of(config, tokenizer, entry), entry["model_type"])
