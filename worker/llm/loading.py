"""Load a registered LLM from its local folder: model class, processor/tokenizer, device, dtype, attention.

Policy
- CPU: float32 (bf16 matmuls are slow on most CPUs), `torch.set_num_threads(n)` for n > 0 (config.torch_threads:
  TORCH_NUM_THREADS, whose `auto` default leaves the CPU pool's cores to it); CUDA: torch's threads untouched.
- CUDA: bfloat16 when the device supports it (else float16) for entries whose dtype is bfloat16, accelerate
  `device_map` ("auto" for DEVICE=auto|cuda, the named device for cuda:N), and the attention kernel tried
  in order flash_attention_2 → sdpa → eager. A kernel that fails to import / is refused at load, or fails
  in a one-token warm-up forward, is skipped; the one in use is reported.
- Out of memory anywhere in the load → OutOfMemoryError after everything allocated so far is released.
"""

from __future__ import annotations

import gc
import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.errors import ModelError, OutOfMemoryError
from worker.llm.weights import needs_processor

log = logging.getLogger(__name__)

CUDA_ATTENTION_ORDER = ("flash_attention_2", "sdpa", "eager")
CPU_ATTENTION_ORDER = ("sdpa", "eager")
DEFAULT_CONTEXT_LENGTH = 4096  # tokens, when a config states none


@dataclass
class LoadedLLM:
    """A resident model with what generation needs. `model` is the only strong reference the manager keeps."""

    model_type: str
    folder: Path
    model: Any
    processor: Any  # AutoProcessor for image/audio models, else the tokenizer
    tokenizer: Any
    device: str
    dtype: str
    attention: str
    context_length: int  # tokens (prompt + generated)
    weights_bytes: int
    load_seconds: float
    modalities: tuple[str, ...] = ("text",)
    extra: dict[str, Any] = field(default_factory=dict)
    cpu_threads: int | None = None  # torch's CPU threads it generates with (config.torch_threads); None on CUDA
    threads: Any = None  # TORCH_NUM_THREADS=auto on the CPU: a threads.PoolThreads, the count following the CPU pool


def pick_device(setting: str | None) -> str:
    """'auto' → 'cuda' when a CUDA device is usable, else 'cpu'; explicit values pass through."""
    import torch

    setting = (setting or "auto").strip().lower()
    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"DEVICE={setting} but no CUDA device is available")
    return setting


def pick_dtype(entry: Mapping[str, Any], device: str):
    """torch dtype for `entry` on `device` (see module docstring)."""
    import torch

    if not device.startswith("cuda"):
        return torch.float32
    if entry.get("dtype", "bfloat16") == "float32":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def is_oom(exc: BaseException) -> bool:
    """True for CUDA/CPU allocation failures in their several spellings."""
    import torch

    if isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text
                                              or "failed to allocate" in text)


def release_memory() -> None:
    """Collect garbage and give cached CUDA blocks (and, on glibc, freed heap pages) back to the system."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    _malloc_trim()


def _malloc_trim() -> None:
    # glibc keeps freed arenas mapped; trimming makes RSS reflect an unload. Absent elsewhere: ignore.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _model_class(entry: Mapping[str, Any]):
    import transformers

    name = entry.get("model_class")
    if name:
        cls = getattr(transformers, name, None)
        if cls is None:
            raise ModelError(f"transformers {transformers.__version__} has no class {name} "
                             f"(needed by {entry['model_type']})")
        return cls
    return transformers.AutoModelForCausalLM


def load_preprocessor(folder: Path, entry: Mapping[str, Any]) -> tuple[Any, Any]:
    """(processor, tokenizer): the AutoProcessor for multimodal entries, else the tokenizer twice."""
    from transformers import AutoProcessor, AutoTokenizer

    if needs_processor(entry):
        processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
        tokenizer = getattr(processor, "tokenizer", processor)
        # Some processors lose their chat template on reload; the tokenizer file keeps it.
        if getattr(tokenizer, "chat_template", None) is None and getattr(processor, "chat_template", None):
            tokenizer.chat_template = processor.chat_template
        return processor, tokenizer
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return tokenizer, tokenizer


def context_length_of(config: Any, tokenizer: Any, entry: Mapping[str, Any]) -> int:
    """Tokens the model attends over: the entry's override, else the text config's positions. `config`: the model's
    (its config.json alone is enough: a prompt is measured against it before the weights are loaded, prompt_fit.py)."""
    if entry.get("context_length"):
        return int(entry["context_length"])
    text_config = config.get_text_config()
    n = getattr(text_config, "max_position_embeddings", None) or DEFAULT_CONTEXT_LENGTH
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 10**8:  # huge sentinels mean "unset"
        n = min(n, tok_max)
    return int(n)


def weights_bytes_of(model: Any) -> int:
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return int(params + sum(b.numel() * b.element_size() for b in model.buffers()))


def _warm_up(model: Any, tokenizer: Any) -> None:
    """One forward on one token: makes a kernel that imports but cannot run on this device fail now."""
    import torch

    token = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else 0
    ids = torch.tensor([[token]], device=model.device)
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=torch.ones_like(ids))


def load_llm(entry: Mapping[str, Any], folder: Path, *, device: str, num_threads: int = 0) -> LoadedLLM:
    """Load `entry` from the complete local `folder` onto `device`.

    Raises OutOfMemoryError (nothing left allocated) or ModelError (unreadable/corrupt folder, with the
    library's message).
    """
    import torch

    if device == "cpu" and num_threads and num_threads > 0:
        torch.set_num_threads(int(num_threads))
    _model_class(entry)  # the first use imports the model's module (seconds): not part of load_seconds
    started = time.perf_counter()
    model = None
    try:
        processor, tokenizer = load_preprocessor(folder, entry)
        dtype = pick_dtype(entry, device)
        model, attention = _load_model_with_attention(entry, folder, device=device, dtype=dtype,
                                                      tokenizer=tokenizer)
        model.eval()
        loaded = LoadedLLM(
            model_type=entry["model_type"],
            folder=Path(folder),
            model=model,
            processor=processor,
            tokenizer=tokenizer,
            device=str(model.device),
            dtype=str(dtype).removeprefix("torch."),
            attention=attention,
            context_length=context_length_of(model.config, tokenizer, entry),
            weights_bytes=weights_bytes_of(model),
            load_seconds=round(time.perf_counter() - started, 3),
            modalities=tuple(entry.get("modalities", ("text",))),
            extra={"generation": dict(entry.get("generation") or {})},
            cpu_threads=None if str(model.device).startswith("cuda") else torch.get_num_threads(),
        )
        return loaded
    except Exception as e:
        # The traceback's frames still reference the half-built model: clear them before collecting.
        model = processor = tokenizer = None  # noqa: F841
        traceback.clear_frames(e.__traceback__)
        release_memory()
        # the library's words and the folder go to the worker's log; the job record says what failed
        log.warning("loading %s from %s failed: %s: %s", entry["model_type"], folder, type(e).__name__, e)
        if is_oom(e):
            raise OutOfMemoryError(f"out of memory loading {entry['model_type']} on {device}",
                                   details={"model_type": entry["model_type"], "device": device}) from e
        if isinstance(e, ModelError):
            raise
        raise ModelError(f"could not load {entry['model_type']}: its files are incomplete or not of that model "
                         "(the worker's log has the details)", details={"model_type": entry["model_type"]}) from e


def _load_model_with_attention(entry, folder: Path, *, device: str, dtype, tokenizer) -> tuple[Any, str]:
    """from_pretrained with the first attention kernel that loads and runs; returns (model, kernel)."""
    cls = _model_class(entry)
    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": True}
    if device.startswith("cuda"):
        kwargs["device_map"] = "auto" if device == "cuda" else {"": device}
        order: tuple[str, ...] = CUDA_ATTENTION_ORDER
    else:
        order = CPU_ATTENTION_ORDER
    order = tuple(entry.get("attention_order", order))
    errors: dict[str, str] = {}
    model = None
    for i, kernel in enumerate(order):
        try:
            if model is None:
                model = cls.from_pretrained(folder, attn_implementation=kernel, **kwargs)
            else:  # weights already resident: switch kernels instead of reloading
                model.set_attn_implementation(kernel)
            _warm_up(model, tokenizer)
            if errors:
                log.warning("%s: attention %s in use after failures %s", entry["model_type"], kernel, errors)
            return model, kernel
        except (ImportError, ValueError, RuntimeError, NotImplementedError) as e:
            if is_oom(e) or i == len(order) - 1:
                raise
            if model is None and not _is_attention_error(e):
                raise  # a corrupt folder, not a kernel problem: do not retry it two more times
            errors[kernel] = f"{type(e).__name__}: {e}"[:300]
    raise AssertionError("unreachable")


def _is_attention_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, ImportError) or any(
        word in text for word in ("flash", "attn", "attention", "sdpa", "kernel"))
