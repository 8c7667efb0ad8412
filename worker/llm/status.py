"""Model status pieces that need no loaded model: per-model rows from the registry, process memory.

The API uses `registry_status` before any worker has published a status (it imports no torch).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from config import MODEL_REGISTRY
from worker.llm.weights import is_downloaded, pypi_gguf_file, registry_entry, resolve_model_dir


def iso_time(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")


def process_memory() -> dict[str, int]:
    """Process RSS and CUDA allocated/reserved bytes right now."""
    import psutil

    out = {"cpu_rss_bytes": int(psutil.Process().memory_info().rss), "gpu_allocated_bytes": 0,
           "gpu_reserved_bytes": 0}
    try:
        import torch

        if torch.cuda.is_available():
            out["gpu_allocated_bytes"] = int(torch.cuda.memory_allocated())
            out["gpu_reserved_bytes"] = int(torch.cuda.memory_reserved())
    except ImportError:  # pragma: no cover - torch is a requirement of the worker
        pass
    return out


def registry_status(settings: Mapping[str, Any], registry: Mapping[str, dict] = MODEL_REGISTRY) -> list[dict]:
    """Per-model status rows with nothing loaded (no torch needed: usable by the API before a worker publishes)."""
    rows = []
    for model_type in registry:
        entry = registry_entry(model_type, registry)
        folder = resolve_model_dir(entry, settings)
        gguf = pypi_gguf_file(entry)
        rows.append({
            "model_type": model_type,
            "name": entry.get("name", model_type),
            "kind": entry.get("kind", "llm"),
            "source": str(folder),
            "repo_id": entry.get("repo_id"),
            "downloaded": is_downloaded(entry, settings),
            "gguf_source": str(gguf) if gguf else None,
            "loaded": False,
            "modalities": list(entry.get("modalities", ["text"])),
            "expected_memory_bytes": entry.get("expected_memory_bytes"),
            "memory": {"gpu_allocated_bytes": 0, "cpu_rss_bytes": 0, "weights_bytes": 0},
            "load_seconds": None,
            "last_used": None,
            "attention": None,
            "dtype": None,
            "context_length": None,
            "error": None,
        })
    return rows
