"""Chat generation with a loaded LLM: prompt building, context check, generate, timing.

`GenerateOptions.from_request(body)` (options.py) runs in the API before anything is enqueued;
`generate(llm, options)` runs in the worker. Audio (for the models that hear it) is passed as 16 kHz mono
float32 arrays, one per `{"type": "audio"}` item in the messages, and reaches the model through its
processor.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from worker.errors import InvalidRequestError, JobStopped
from worker.llm.loading import LoadedLLM
from worker.llm.meter import GenerationMeter
from worker.llm.options import GenerateOptions, count_parts
from worker.llm.prompt_fit import render_text, room_left
from worker.progress import Progress, detail_from

log = logging.getLogger(__name__)

PROGRESS_EVERY_TOKENS = 8  # how often generation reports progress (and so how soon a cancel is seen)
PROGRESS_EVERY_SECONDS = 1.0  # and at least this often: a slow model's 8 tokens can take 5-10 s on a CPU
LAYER_STACK_NAMES = frozenset({"layers", "layer", "h", "blocks"})  # transformers' names of a model's layer lists


def audio_sample_rate(llm: LoadedLLM) -> int | None:
    """The rate (Hz) the model's audio feature extractor expects, or None for models without audio."""
    if "audio" not in llm.modalities:
        return None
    extractor = getattr(llm.processor, "feature_extractor", None) or getattr(llm.processor, "audio_processor", None)
    return int(getattr(extractor, "sampling_rate", 16000))


def render_prompt(llm: LoadedLLM, conversation: list[dict[str, Any]]) -> str:
    """The chat-template text of `conversation` with the assistant turn opened (prompt_fit.render_text)."""
    return render_text(llm.tokenizer, llm.model_type, conversation)


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
    InvalidRequestError for media the model cannot take. `progress` may raise JobCanceled or JobTimeLimitError
    (propagated, carrying the text written so far as `generated`, its `finish_reason` the stop's: canceled,
    time_limit).
    """
    import torch

    conversation = options.conversation()
    for kind, given in (("audio", audio), ("image", images)):
        parts, n_given = count_parts(conversation, kind), len(given or ())
        if parts != n_given:
            raise InvalidRequestError(f"{parts} {kind} part(s) in the messages but {n_given} {kind} input(s)")
        if parts and kind not in llm.modalities:
            raise InvalidRequestError(f"{llm.model_type} does not take {kind} input "
                                      f"(modalities: {', '.join(llm.modalities)})")
    inputs = prepare_inputs(llm, render_prompt(llm, conversation), audio=audio, images=images)
    prompt_tokens = int(inputs["input_ids"].shape[-1])
    room = room_left(prompt_tokens, llm.context_length, llm.model_type)
    max_new = min(options.max_length, room)

    model = llm.model
    inputs = {k: _to_device(v, model) for k, v in inputs.items()}
    config = _generation_config(llm, options, max_new)
    reading = f"reading the prompt ({prompt_tokens} tokens)"
    meter = GenerationMeter(prompt_tokens=prompt_tokens, max_new_tokens=max_new)
    prefill = PrefillCheckpoints(model, progress, reading, meter) if progress is not None else None
    threads = llm.threads  # TORCH_NUM_THREADS=auto on the CPU: the cores the CPU pool leaves now (threads.py)
    stopping = ([_progress_criteria(progress, max_new, prompt_tokens, prefill, meter, threads)]
                if progress is not None else [])
    loop_guard = answer_ngram_guard(llm, prompt_tokens)
    if options.seed is not None:
        torch.manual_seed(options.seed)
    if threads is not None:
        meter.cpu_threads = threads.begin()
    started = time.perf_counter()
    try:
        # the reports made meanwhile carry the meter's tokens, rate and time left (the job's `generation`)
        with detail_from(meter.snapshot), torch.inference_mode():
            if progress is not None:  # a long prompt takes a while before the first token (8 k tokens: ~100 s)
                progress(0.0, reading)
            output = model.generate(**inputs, generation_config=config, stopping_criteria=stopping or None,
                                    logits_processor=[loop_guard] if loop_guard is not None else None)
    except JobStopped as e:  # the text so far is the caller's: a long answer stopped early is still read
        if e.generated and e.generated["ids"]:
            e.generated = _answer(llm, e.generated["ids"], finish_reason=e.stopped_as, prompt_tokens=prompt_tokens,
                                  seconds=time.perf_counter() - started, audio=audio, warnings=[])
        else:  # stopped while the prompt was read: nothing was written
            e.generated = None
        raise
    finally:
        if prefill is not None:
            prefill.remove()
        if threads is not None:
            threads.end()
    seconds = time.perf_counter() - started

    new_ids = output[0, prompt_tokens:].tolist()
    eos_ids = _eos_ids(config)
    pad = config.pad_token_id
    while new_ids and pad is not None and new_ids[-1] == pad and pad not in eos_ids:
        new_ids.pop()
    finish_reason = "stop" if new_ids and new_ids[-1] in eos_ids else "length"
    warnings = []
    if max_new < options.max_length:
        warnings.append(f"max_length {options.max_length} was lowered to {max_new} new tokens: the prompt takes "
                        f"{prompt_tokens} of the model's {llm.context_length}-token context")
    result = _answer(llm, new_ids, finish_reason=finish_reason, prompt_tokens=prompt_tokens, seconds=seconds,
                     audio=audio, warnings=warnings)
    if progress is not None:
        try:
            progress(1.0, "generated")
        except JobStopped as e:  # stopped as the last token came: the whole answer is what it had written
            e.generated = result
            raise
    return result


def _answer(llm: LoadedLLM, new_ids: list[int], *, finish_reason: str,
            prompt_tokens: int, seconds: float, audio: Sequence[np.ndarray] | None,
            warnings: list[str]) -> dict[str, Any]:
    """The result of a generation that ended for `finish_reason` (stop, length, canceled or time_limit) after
    `new_ids`."""
    text = llm.tokenizer.decode(new_ids, skip_special_tokens=True).strip()
    if finish_reason != "stop":
        # a byte-level token can end partway through a character: the cut leaves a replacement character
        text = text.rstrip("\ufffd").rstrip()
    return {
        "response": text,
        "model": llm.model_type,
        "tokens_generated": len(new_ids),
        "seconds": round(seconds, 3),
        "tokens_per_second": round(len(new_ids) / seconds, 2) if seconds > 0 else None,
        "prompt_tokens": prompt_tokens,
        "finish_reason": finish_reason,
        "audio_input": bool(audio),
        "warnings": warnings,
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


def _progress_criteria(progress: Progress, max_new: int, prompt_tokens: int, prefill: PrefillCheckpoints | None,
                       meter: GenerationMeter, threads: Any = None):
    """A stopping criterion that never stops: it counts the token on `meter` and reports progress, which may raise
    JobCanceled or JobTimeLimitError (carrying the ids generated so far), after the first token, every
    PROGRESS_EVERY_TOKENS and at least every PROGRESS_EVERY_SECONDS; the first ends `prefill`'s checkpoints. At
    those checkpoints `threads` (threads.PoolThreads) sets torch's count for the CPU pool as it is then, reading it
    once a second at most."""
    import torch
    from transformers import StoppingCriteria

    class ProgressCriteria(StoppingCriteria):
        calls = 0
        reported = 0.0

        def __call__(self, input_ids, scores, **kwargs):
            self.calls += 1
            meter.token(self.calls)
            if self.calls == 1 and prefill is not None:
                prefill.remove()
            if (self.calls == 1 or self.calls % PROGRESS_EVERY_TOKENS == 0
                    or meter.token_at - self.reported >= PROGRESS_EVERY_SECONDS):
                self.reported = meter.token_at
                if threads is not None:  # between two forward passes: the next token runs with the new count
                    meter.cpu_threads = threads.checkpoint()
                try:
                    progress(min(self.calls / max_new, 0.99), "generating")
                except JobStopped as e:
                    e.generated = {"ids": input_ids[0, prompt_tokens:].tolist()}
                    raise
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return ProgressCriteria()


class PrefillCheckpoints:
    """Progress reports (and so cancel and time-limit checkpoints) before each layer while the prompt is read.

    The first token comes only after one forward pass over the whole prompt: 55 s for 6,300 tokens of SmolLM2 on
    a stranger's CPU, during which a cancel was not seen and the single GPU queue was held for everyone. Hooks on
    every layer of the model's layer stacks (the text decoder's and any audio or vision encoder's) report before
    each layer runs; they are removed at the first token, so decoding pays nothing for them.
    """

    def __init__(self, model: Any, progress: Progress, stage: str, meter: GenerationMeter | None = None):
        import torch

        def report(module, args):
            if meter is not None:
                meter.layer()
            progress(0.0, stage)

        stacks = [m for name, m in model.named_modules()
                  if isinstance(m, torch.nn.ModuleList) and name.rsplit(".", 1)[-1] in LAYER_STACK_NAMES]
        self.handles = [layer.register_forward_pre_hook(report) for stack in stacks for layer in stack]
        if meter is not None:
            meter.layers = len(self.handles)  # the prompt's time left is told by the layers read so far

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


def answer_ngram_guard(llm: LoadedLLM, prompt_tokens: int) -> Any:
    """A logits processor that forbids repeating any n-gram of the answer itself (n: the registry's
    "generation": {"answer_no_repeat_ngram": n}), so a small model cannot loop on a line until the token
    limit. Unlike transformers' no_repeat_ngram_size or repetition_penalty it ignores the prompt: quoting
    the user's words ("my favourite instrument is the cello") stays possible. None when not configured."""
    from transformers import LogitsProcessor

    n = int((llm.extra.get("generation") or {}).get("answer_no_repeat_ngram") or 0)
    if n < 2:
        return None

    class AnswerNoRepeatNGram(LogitsProcessor):
        def __call__(self, input_ids, scores):
            for row, ids in enumerate(input_ids.tolist()):
                answer = ids[prompt_tokens:]
                if len(answer) < n - 1:
                    continue
                prefix = tuple(answer[-(n - 1):])
                banned = {answer[i + n - 1] for i in range(len(answer) - n + 1)
                          if tuple(answer[i:i + n - 1]) == prefix}
                if banned:
                    scores[row, list(banned)] = -float("inf")
            return scores

    return AnswerNoRepeatNGram()
