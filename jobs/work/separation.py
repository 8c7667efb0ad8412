"""The separation job: Demucs on the GPU queue (the model stays resident), DSP methods on the CPU queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models import ModelManager
from worker.progress import Progress
from worker.separation.options import SeparationOptions
from worker.separation.pipeline import run_separation
from worker.separation.weights import load_demucs

from ..runner import JobContext, for_each_file
from ..runtime import model_manager


def demucs_model(manager: ModelManager, name: str, *, models_dir: Path) -> Any:
    """The resident Demucs model `name` (an "audio" model: kept within the budget, least recently used first)."""
    return manager.acquire(f"demucs:{name}", kind="audio", loader=lambda: load_demucs(
        name, models_dir=models_dir, device=manager.device))


def separator_for(ctx: JobContext, name: str, *, is_dsp: bool) -> Any:
    """A DSP method needs no model (None: the pipeline builds it); a Demucs name gets the resident model."""
    return None if is_dsp else demucs_model(model_manager(), name, models_dir=Path(ctx.settings["MODELS_DIR"]))


def demucs(ctx: JobContext, progress: Progress) -> dict:
    options = ctx.options_as(SeparationOptions)
    model = separator_for(ctx, options.model, is_dsp=options.is_dsp)
    return for_each_file(ctx, progress, run_separation, separator_or_model=model)
