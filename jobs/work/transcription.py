"""The transcription job: Whisper on the mix, or on the vocal stem (separating it first when missing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config import torch_threads
from worker.progress import Progress, scaled
from worker.separation.options import SeparationOptions
from worker.separation.pipeline import run_separation
from worker.transcription.options import WhisperOptions
from worker.transcription.pipeline import run_transcription, vocals_stem_path
from worker.transcription.weights import load_whisper

from ..runner import JobContext, for_each_file
from ..runtime import model_manager
from .separation import separator_for


def whisper(ctx: JobContext, progress: Progress) -> dict:
    options = ctx.options_as(WhisperOptions)
    manager = model_manager()
    device = "cuda" if manager.device.startswith("cuda") else "cpu"
    threads = torch_threads(ctx.settings, device=device)
    models_dir = Path(ctx.settings["MODELS_DIR"])
    model = manager.acquire(f"whisper:{options.model}", kind="audio", loader=lambda: load_whisper(
        options.model, models_dir=models_dir, device=device, cpu_threads=threads))
    return for_each_file(ctx, progress, transcribe_file, model=model, job=ctx)


def transcribe_file(*, audio_path: Path, results_dir: Path, options: WhisperOptions, progress: Progress,
                    model: Any, job: JobContext) -> dict:
    """One file; for `source: "vocals"` without a vocal stem yet, VOCALS_SEPARATION_MODEL separates it first."""
    vocals = None
    if options.source == "vocals":
        vocals = vocals_stem_path(results_dir, audio_path)
        if vocals is None:
            separation = SeparationOptions(model=job.settings["VOCALS_SEPARATION_MODEL"], two_stems="vocals")
            run_separation(audio_path=audio_path, results_dir=results_dir, options=separation,
                           separator_or_model=separator_for(job, separation.model, is_dsp=separation.is_dsp),
                           progress=scaled(progress, 0.0, 0.5))
            vocals = vocals_stem_path(results_dir, audio_path)
            progress = scaled(progress, 0.5, 1.0)
    return run_transcription(audio_path=audio_path, results_dir=results_dir, options=options, model=model,
                             progress=progress, vocals_path=vocals, model_name=options.model)
