"""Which separation models exist and whether their weights are on this machine, without importing torch.

The API asks these questions before queueing (400 for an unknown name, 409 for missing weights), so
they read folders and the demucs package's bundled model list as files: importing `demucs.pretrained`
or `demucs.hf` would pull torch into every API process.

Where weights may be (the order `weights.load_demucs` searches; never the network):
1. a demucs *local repo* folder, `MODELS_DIR/demucs/` (or `MODELS_DIR/` itself): `<name>.yaml` bag files and
   `<signature>[-<checksum>].th` model packages, exactly what `python -m demucs --repo DIR` reads;
2. a copy of the Hugging Face repository (`adefossez/HTDemucs`, ...): `MODELS_DIR/adefossez/<Repo>/`,
   `MODELS_DIR/demucs/<Repo>/` or `MODELS_DIR/<Repo>/`, holding `<name>.yaml` + `<signature>.safetensors`;
3. the Hugging Face cache (under `MODELS_DIR`, then the default cache);
4. the torch hub cache (`$TORCH_HOME/hub/checkpoints`) that `python -m demucs -n NAME` fills.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from worker.errors import InvalidRequestError

DEMUCS_SUBDIR = "demucs"  # MODELS_DIR/demucs is the local repo folder
HF_NAMESPACE = "adefossez"  # where the demucs authors publish the safetensors weights
# weight-free DSP methods and the stems each writes (worker/separation/dsp.py implements them)
DSP_STEMS: dict[str, tuple[str, ...]] = {"hpss": ("harmonic", "percussive"), "repet": ("vocals", "accompaniment")}
DSP_METHODS = tuple(DSP_STEMS)
DEMUCS_ROOT_URL = "https://dl.fbaipublicfiles.com/demucs/"  # demucs.pretrained.ROOT_URL


def remote_dir() -> Path:
    """The demucs package's `remote/` folder: a yaml per pretrained bag and files.txt (signature -> URL)."""
    return Path(str(importlib.resources.files("demucs") / "remote"))


def pretrained_names() -> list[str]:
    """Names of the bags the demucs package knows (htdemucs, htdemucs_ft, htdemucs_6s, mdx, ...)."""
    return sorted(p.stem for p in remote_dir().glob("*.yaml"))


def hf_repo_name(name: str) -> str:
    """demucs.hf.hf_repo_name without its torch import: `htdemucs_ft` -> `HTDemucs-ft`, `mdx` -> `Demucs-mdx`."""
    if name == "htdemucs":
        return "HTDemucs"
    if name.startswith("htdemucs_"):
        return "HTDemucs-" + name[len("htdemucs_"):]
    return "Demucs-" + name


def local_repo_dirs(models_dir: Path | None) -> list[Path]:
    if models_dir is None:
        return []
    models_dir = Path(models_dir)
    return [d for d in (models_dir / DEMUCS_SUBDIR, models_dir) if d.is_dir()]


def local_repo_names(folder: Path) -> set[str]:
    names = {p.stem for p in folder.glob("*.yaml")}
    names |= {p.stem.rsplit("-", 1)[0] if "-" in p.stem else p.stem for p in folder.glob("*.th")}
    return names


def hf_folders(models_dir: Path | None, name: str) -> list[Path]:
    if models_dir is None:
        return []
    repo = hf_repo_name(name)
    models_dir = Path(models_dir)
    candidates = [models_dir / HF_NAMESPACE / repo, models_dir / DEMUCS_SUBDIR / repo, models_dir / repo]
    return [d for d in candidates if (d / f"{name}.yaml").is_file()]


def available_models(models_dir: Path | None = None) -> list[str]:
    """Every model name a request may ask for: DSP methods, demucs' pretrained names, local extras."""
    names = set(pretrained_names()) | set(DSP_METHODS)
    for folder in local_repo_dirs(models_dir):
        names |= local_repo_names(folder)
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


def torch_hub_dir() -> Path:
    """torch.hub.get_dir() without importing torch ($TORCH_HOME/hub, default ~/.cache/torch/hub)."""
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(os.environ.get("TORCH_HOME", os.path.join(cache, "torch")))) / "hub"


def remote_files() -> dict[str, str]:
    """signature -> download URL, as demucs.pretrained._parse_remote_files reads files.txt."""
    root, urls = "", {}
    for line in (remote_dir() / "files.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("root:"):
            root = line.split(":", 1)[1].strip()
        else:
            sig = line.split("-", 1)[0]
            urls[sig] = DEMUCS_ROOT_URL + root + line
    return urls


def torch_hub_files_present(name: str) -> bool:
    """Whether every checkpoint of the pretrained bag `name` is in the torch hub cache."""
    import yaml

    yaml_path = remote_dir() / f"{name}.yaml"
    if not yaml_path.is_file():
        return False
    urls = remote_files()
    sigs = yaml.safe_load(yaml_path.read_text())["models"]
    checkpoints = torch_hub_dir() / "checkpoints"
    return all(sig in urls and (checkpoints / urls[sig].rsplit("/", 1)[-1]).is_file() for sig in sigs)


def weights_present(name: str, models_dir: Path | None) -> bool:
    """Whether `load_demucs(name)` would find local files, without loading them (the API's 409 check)."""
    from huggingface_hub import try_to_load_from_cache

    if name in DSP_METHODS:
        return True
    if any(name in local_repo_names(f) for f in local_repo_dirs(models_dir)) or hf_folders(models_dir, name):
        return True
    repo_id = f"{HF_NAMESPACE}/{hf_repo_name(name)}"
    for cache_dir in ([Path(models_dir)] if models_dir else []) + [None]:
        kw = {"cache_dir": str(cache_dir)} if cache_dir else {}
        if isinstance(try_to_load_from_cache(repo_id, f"{name}.yaml", **kw), str):
            return True
    return torch_hub_files_present(name)
