"""Tiny random audio models saved the way the real weights are stored (recipes: shared/TINY_MODELS.md).

They load through the production loaders (`load_demucs`, `load_musicgen`), so tests exercise the real path
with weights of a few megabytes. Random weights make noise, not music: tests check shapes, rates, lengths,
determinism and plumbing, never quality.
"""

from __future__ import annotations

import json
from pathlib import Path

TINY_DEMUCS_NAME = "tiny_htdemucs"
TINY_DEMUCS_SIG = "0badcafe"
DEMUCS_SOURCES = ["drums", "bass", "other", "vocals"]


def tiny_htdemucs(*, seed: int = 0, **overrides):
    """A small random HTDemucs: 44.1 kHz stereo, 4 sources like the real one; a 4 s training segment
    (the real one has 7.8 s) halves the work per window in tests."""
    import torch
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(seed)
    kwargs = dict(sources=DEMUCS_SOURCES, channels=8, depth=4, nfft=4096, t_layers=1, t_heads=2,
                  segment=4)
    kwargs.update(overrides)
    return HTDemucs(**kwargs).eval()


def build_tiny_htdemucs(folder: Path, *, name: str = TINY_DEMUCS_NAME, seed: int = 0, **overrides) -> Path:
    """Save a tiny HTDemucs as a demucs local repo: `<name>.yaml` + `<sig>-<sha256[:8]>.th`.

    That is the layout of the published weights (a bag yaml naming signatures; a torch package with
    klass/args/kwargs/state, its file name carrying a checksum), read by `demucs.pretrained.get_model(name,
    repo=folder)`. Returns the folder.
    """
    from demucs.states import get_state, save_with_checksum

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_htdemucs(seed=seed, **overrides)
    args, kwargs = model._init_args_kwargs
    package = {"klass": model.__class__, "args": args, "kwargs": kwargs, "state": get_state(model, None),
               "training_args": {}}
    save_with_checksum(package, folder / f"{TINY_DEMUCS_SIG}.th")
    (folder / f"{name}.yaml").write_text(f"models: ['{TINY_DEMUCS_SIG}']\n")
    return folder


def build_tiny_htdemucs_hf(folder: Path, *, name: str = TINY_DEMUCS_NAME, seed: int = 0) -> Path:
    """The Hugging Face layout of the same model: `<name>.yaml` + `<sig>.safetensors` with klass/args/kwargs
    in the safetensors metadata (what `demucs.hf.load_safetensors_model` reads)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_htdemucs(seed=seed)
    args, kwargs = model._init_args_kwargs
    meta = {"klass": "demucs.htdemucs.HTDemucs", "args": json.dumps(list(args)), "kwargs": json.dumps(kwargs)}
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / f"{TINY_DEMUCS_SIG}.safetensors"), metadata=meta)
    (folder / f"{name}.yaml").write_text(f"models: ['{TINY_DEMUCS_SIG}']\n")
    return folder
