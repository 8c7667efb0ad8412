"""Find and load Demucs weights offline, through the demucs package's own loaders.

Where weights may be (searched in this order, no network access in any case):

1. a demucs *local repo* folder, `MODELS_DIR/demucs/` (or `MODELS_DIR/` itself): `<name>.yaml` bag files
   and `<signature>[-<checksum>].th` model packages, exactly what `python -m demucs --repo DIR` reads.
   Loaded with `demucs.pretrained.get_model(name, repo=DIR)`.
2. a copy of the Hugging Face repository (`adefossez/HTDemucs`, ...), `MODELS_DIR/adefossez/<Repo>/`,
   `MODELS_DIR/demucs/<Repo>/` or `MODELS_DIR/<Repo>/`: `<name>.yaml` + `<signature>.safetensors`.
   Loaded with `demucs.hf.load_safetensors_model`.
3. the Hugging Face cache (under `MODELS_DIR`, then the default cache), read with `local_files_only=True`.
4. the torch hub cache (`~/.cache/torch/hub/checkpoints`) that `python -m demucs -n NAME` fills.
"""

from __future__ import annotations

import logging
from pathlib import Path

from worker.errors import InvalidRequestError, ModelNotAvailableError

log = logging.getLogger(__name__)

DEMUCS_SUBDIR = "demucs"  # MODELS_DIR/demucs is the local repo folder
HF_NAMESPACE = "adefossez"  # where the demucs authors publish the safetensors weights
DSP_METHODS = ("hpss", "repet")  # need no weights (worker/separation_dsp.py)


def pretrained_names() -> list[str]:
    """Names of the bags the demucs package knows (htdemucs, htdemucs_ft, htdemucs_6s, mdx, ...)."""
    from demucs.pretrained import REMOTE_ROOT

    return sorted(p.stem for p in Path(REMOTE_ROOT).glob("*.yaml"))


def _local_repo_dirs(models_dir: Path | None) -> list[Path]:
    if models_dir is None:
        return []
    models_dir = Path(models_dir)
    return [d for d in (models_dir / DEMUCS_SUBDIR, models_dir) if d.is_dir()]


def _local_repo_names(folder: Path) -> set[str]:
    names = {p.stem for p in folder.glob("*.yaml")}
    names |= {p.stem.rsplit("-", 1)[0] if "-" in p.stem else p.stem for p in folder.glob("*.th")}
    return names


def _hf_folders(models_dir: Path | None, name: str) -> list[Path]:
    if models_dir is None:
        return []
    from demucs.hf import hf_repo_name

    repo = hf_repo_name(name)
    models_dir = Path(models_dir)
    candidates = [models_dir / HF_NAMESPACE / repo, models_dir / DEMUCS_SUBDIR / repo, models_dir / repo]
    return [d for d in candidates if (d / f"{name}.yaml").is_file()]


def available_models(models_dir: Path | None = None) -> list[str]:
    """Every model name a request may ask for: DSP methods, demucs' pretrained names, local extras."""
    names = set(pretrained_names()) | set(DSP_METHODS)
    for folder in _local_repo_dirs(models_dir):
        names |= _local_repo_names(folder)
    if models_dir is not None:  # copies of the Hugging Face repositories: <root>/<Repo>/<name>.yaml
        for root in (Path(models_dir) / HF_NAMESPACE, Path(models_dir) / DEMUCS_SUBDIR, Path(models_dir)):
            names |= {p.stem for p in root.glob("*/*.yaml")} if root.is_dir() else set()
    return sorted(names)


def check_model_name(name: str, models_dir: Path | None = None) -> None:
    """Raise InvalidRequestError (HTTP 400) listing the valid names when `name` is unknown."""
    valid = available_models(models_dir)
    if name not in valid:
        raise InvalidRequestError(
            f"unknown separation model {name!r}; available: {', '.join(valid)}",
            code="unknown_model", details={"available": valid})


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
            f"internet: `huggingface-cli download {HF_NAMESPACE}/{_hf_repo_name(name)} "
            f"--local-dir MODELS_DIR/{HF_NAMESPACE}/{_hf_repo_name(name)}`, or run `python -m demucs -n {name}` once "
            f"(fills the torch hub cache), or put {name}.yaml and its .th files into MODELS_DIR/{DEMUCS_SUBDIR}/",
            details={"model": name})
    model.eval()
    model.to(device)
    return model, model_bytes(model)


def _hf_repo_name(name: str) -> str:
    from demucs.hf import hf_repo_name

    return hf_repo_name(name)


def _load_local(name: str, models_dir: Path | None):
    from demucs.pretrained import get_model
    from demucs.repo import ModelLoadingError

    for folder in _local_repo_dirs(models_dir):
        if name in _local_repo_names(folder):
            try:
                return get_model(name, repo=folder)
            except ModelLoadingError as e:
                raise ModelNotAvailableError(f"demucs model {name!r} in {folder} is incomplete: {e}",
                                             details={"model": name}) from e
    for folder in _hf_folders(models_dir, name):
        return _load_hf_bag(folder / f"{name}.yaml", lambda sig, f=folder: f / f"{sig}.safetensors")
    for cache_dir in ([Path(models_dir)] if models_dir else []) + [None]:
        bag = _load_from_hf_cache(name, cache_dir)
        if bag is not None:
            return bag
    return _load_from_torch_hub_cache(name)


def _load_hf_bag(yaml_path: Path, locate):
    import yaml
    from demucs.apply import BagOfModels
    from demucs.hf import load_safetensors_model

    with open(yaml_path) as fh:
        bag = yaml.safe_load(fh)
    files = [locate(sig) for sig in bag["models"]]
    missing = [str(f) for f in files if f is None or not Path(f).is_file()]
    if missing:
        raise ModelNotAvailableError(f"{yaml_path.stem}: weight files missing: {', '.join(missing)}")
    models = [load_safetensors_model(f) for f in files]
    return BagOfModels(models, bag.get("weights"), bag.get("segment"))


def _load_from_hf_cache(name: str, cache_dir: Path | None):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo_id = f"{HF_NAMESPACE}/{_hf_repo_name(name)}"
    kw = {"cache_dir": str(cache_dir)} if cache_dir else {}
    try:
        yaml_path = hf_hub_download(repo_id, f"{name}.yaml", local_files_only=True, **kw)
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None

    def locate(sig: str):
        try:
            return hf_hub_download(repo_id, f"{sig}.safetensors", local_files_only=True, **kw)
        except (LocalEntryNotFoundError, OSError, ValueError):
            return None

    return _load_hf_bag(Path(yaml_path), locate)


def weights_present(name: str, models_dir: Path | None) -> bool:
    """Whether `load_demucs(name)` would find local files, without loading them (cheap: for the API's 409)."""
    from huggingface_hub import try_to_load_from_cache

    if name in DSP_METHODS:
        return True
    if any(name in _local_repo_names(f) for f in _local_repo_dirs(models_dir)) or _hf_folders(models_dir, name):
        return True
    repo_id = f"{HF_NAMESPACE}/{_hf_repo_name(name)}"
    for cache_dir in ([Path(models_dir)] if models_dir else []) + [None]:
        kw = {"cache_dir": str(cache_dir)} if cache_dir else {}
        if isinstance(try_to_load_from_cache(repo_id, f"{name}.yaml", **kw), str):
            return True
    return _torch_hub_files_present(name)


def _torch_hub_files_present(name: str) -> bool:
    import torch
    import yaml
    from demucs.pretrained import REMOTE_ROOT, _parse_remote_files

    yaml_path = Path(REMOTE_ROOT) / f"{name}.yaml"
    if not yaml_path.is_file():
        return False
    urls = _parse_remote_files(Path(REMOTE_ROOT) / "files.txt")
    sigs = yaml.safe_load(yaml_path.read_text())["models"]
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    return all(sig in urls and (checkpoints / urls[sig].rsplit("/", 1)[-1]).is_file() for sig in sigs)


def _load_from_torch_hub_cache(name: str):
    """The legacy remote repo, only when every file it would fetch is already in the torch hub cache."""
    from demucs.pretrained import REMOTE_ROOT, _parse_remote_files
    from demucs.repo import AnyModelRepo, BagOnlyRepo, RemoteRepo

    if not _torch_hub_files_present(name):
        return None
    urls = _parse_remote_files(Path(REMOTE_ROOT) / "files.txt")
    model_repo = RemoteRepo(urls)
    return AnyModelRepo(model_repo, BagOnlyRepo(Path(REMOTE_ROOT), model_repo)).get_model(name)
