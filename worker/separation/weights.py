"""Load Demucs weights offline, through the demucs package's own loaders (where they are: catalog.py).

Importing this module imports torch and demucs: only the worker does, when a separation job runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml
from demucs.apply import BagOfModels
from demucs.hf import load_safetensors_model
from demucs.pretrained import get_model
from demucs.repo import AnyModelRepo, BagOnlyRepo, ModelLoadingError, RemoteRepo
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import LocalEntryNotFoundError

from worker.errors import InvalidRequestError, ModelNotAvailableError

from .catalog import (
    DEMUCS_SUBDIR,
    DSP_METHODS,
    HF_NAMESPACE,
    check_model_name,
    hf_folders,
    hf_repo_name,
    local_repo_dirs,
    local_repo_names,
    remote_dir,
    remote_files,
    torch_hub_files_present,
)

log = logging.getLogger(__name__)


def model_bytes(model) -> int:
    """Bytes held by parameters and buffers (what the model manager budgets)."""
    tensors = list(model.parameters()) + list(model.buffers())
    return int(sum(t.numel() * t.element_size() for t in tensors))


def load_demucs(name: str, *, models_dir: Path | None, device: str = "cpu"):
    """Load a Demucs model or bag by name from local files only.

    Returns `(model, approx_bytes)`; the model is in eval mode on `device`.
    Raises InvalidRequestError for an unknown name, ModelNotAvailableError (409) when no local copy exists.
    """
    if name in DSP_METHODS:
        raise InvalidRequestError(f"{name!r} is a DSP method and needs no model", code="invalid_model")
    check_model_name(name, models_dir)
    model = _load_local(name, models_dir)
    if model is None:
        raise ModelNotAvailableError(
            f"the weights of demucs model {name!r} are not present locally. Get them on a machine with "
            f"internet: `huggingface-cli download {HF_NAMESPACE}/{hf_repo_name(name)} "
            f"--local-dir MODELS_DIR/{HF_NAMESPACE}/{hf_repo_name(name)}`, or run `python -m demucs -n {name}` once "
            f"(fills the torch hub cache), or put {name}.yaml and its .th files into MODELS_DIR/{DEMUCS_SUBDIR}/",
            details={"model": name})
    model.eval()
    model.to(device)
    return model, model_bytes(model)


def _load_local(name: str, models_dir: Path | None):
    for folder in local_repo_dirs(models_dir):
        if name in local_repo_names(folder):
            try:
                return get_model(name, repo=folder)
            except ModelLoadingError as e:
                log.warning("demucs model %r in %s is incomplete: %s", name, folder, e)
                raise ModelNotAvailableError(f"demucs model {name!r} is incomplete on this server (the worker's "
                                             "log names its folder)", details={"model": name}) from e
    for folder in hf_folders(models_dir, name):
        return _load_hf_bag(folder / f"{name}.yaml", lambda sig, f=folder: f / f"{sig}.safetensors")
    for cache_dir in ([Path(models_dir)] if models_dir else []) + [None]:
        bag = _load_from_hf_cache(name, cache_dir)
        if bag is not None:
            return bag
    return _load_from_torch_hub_cache(name)


def _load_hf_bag(yaml_path: Path, locate):
    with open(yaml_path) as fh:
        bag = yaml.safe_load(fh)
    files = [locate(sig) for sig in bag["models"]]
    missing = [str(f) for f in files if f is None or not Path(f).is_file()]
    if missing:
        log.warning("%s: weight files missing: %s", yaml_path, ", ".join(missing))
        raise ModelNotAvailableError(f"{yaml_path.stem}: weight files missing: "
                                     f"{', '.join(Path(m).name for m in missing)}")
    models = [load_safetensors_model(f) for f in files]
    return BagOfModels(models, bag.get("weights"), bag.get("segment"))


def _load_from_hf_cache(name: str, cache_dir: Path | None):
    repo_id = f"{HF_NAMESPACE}/{hf_repo_name(name)}"
    cache = str(cache_dir) if cache_dir else None
    try:
        yaml_path = hf_hub_download(repo_id, f"{name}.yaml", local_files_only=True, cache_dir=cache)
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None

    def locate(sig: str):
        try:
            return hf_hub_download(repo_id, f"{sig}.safetensors", local_files_only=True, cache_dir=cache)
        except (LocalEntryNotFoundError, OSError, ValueError):
            return None

    return _load_hf_bag(Path(yaml_path), locate)


def _load_from_torch_hub_cache(name: str):
    """The legacy remote repo, only when every file it would fetch is already in the torch hub cache."""
    if not torch_hub_files_present(name):
        return None
    model_repo = RemoteRepo(remote_files())
    return AnyModelRepo(model_repo, BagOnlyRepo(remote_dir(), model_repo)).get_model(name)
