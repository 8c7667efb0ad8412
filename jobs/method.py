"""What a job really ran, in a few words: its `method` (GET /jobs, GET /jobs/<id>, GET /sessions/<id>'s jobs).

A job's `type` is its route's name: a REPET or HPSS separation is a `demucs` job, an analysis by SmolLM2 a `gemma_3n`
one, and a stranger's `ma jobs` had listed them so. `method` names the model or algorithm from the job's stored
options, one rule for every type (this module alone): the option that picks it, as the request names it
(`repet`, `hpss`, `htdemucs`, `smollm2-135m`, `musicgen-small`); a Whisper size gets "whisper " before it
(`whisper tiny.en`: a bare `tiny.en` says nothing in a list). A model asked as `auto` (or left to the resident one,
null) is the model the worker chose once its result names it, until then `auto` (or null). Null for a type with one
method only (features, pitch, probe, model_unload, library_reindex): its `type` says it all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from worker.llm.choice import AUTO

from .types import JOB_TYPES, stored_params

# job type -> (the option naming its model or algorithm, the words put before it)
METHOD_OPTIONS: dict[str, tuple[str, str]] = {
    "demucs": ("model", ""),
    "whisper": ("model", "whisper "),
    "musicgen": ("model", ""),
    "gemma_3n": ("model_variant", ""),
    "lyrics": ("model_variant", ""),
    "compare": ("model_variant", ""),
    "generate": ("model_type", ""),
    "model_load": ("model_type", ""),
    "library_ask": ("model_type", ""),
}


def job_method(job: Mapping[str, Any]) -> str | None:
    """The `method` of a decoded job record (jobs/record.py): its `type`, `params` and, for a model the worker
    chose, `result`."""
    picked = METHOD_OPTIONS.get(str(job.get("type")))
    if picked is None:
        return None
    name, prefix = picked
    params = job.get("params")
    options = stored_params(str(job["type"]), params)["options"] if isinstance(params, dict) else {}
    value = options.get(name, _default(str(job["type"]), name)) if isinstance(options, dict) else None
    if value is None or value == AUTO:
        value = _chosen_model(job.get("result")) or value
    return f"{prefix}{value}" if isinstance(value, str) and value else None


def _default(job_type: str, name: str) -> Any:
    """The option's default (a record of an older version may lack the option)."""
    field = next((f for f in dataclasses.fields(JOB_TYPES[job_type].options) if f.name == name), None)
    return None if field is None or field.default is dataclasses.MISSING else field.default


def _chosen_model(result: Any) -> str | None:
    """The model a result names (a batch's: its first file's), or None."""
    if isinstance(result, dict) and result.get("batch") and isinstance(result.get("results"), list):
        result = next((r for r in result["results"] if isinstance(r, dict)), None)
    model = result.get("model") if isinstance(result, dict) else None
    return model if isinstance(model, str) and model and model != AUTO else None
