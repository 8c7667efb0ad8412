"""The MusicGen job: text (and optionally a session file's melody) to a new audio file in the session."""

from __future__ import annotations

from pathlib import Path

from worker.musicgen.options import MusicGenOptions
from worker.musicgen.pipeline import run_musicgen
from worker.musicgen.weights import load_musicgen
from worker.progress import Progress

from ..runner import JobContext
from ..runtime import model_manager


def musicgen(ctx: JobContext, progress: Progress) -> dict:
    options = ctx.options_as(MusicGenOptions)
    manager = model_manager()
    models_dir = Path(ctx.settings["MODELS_DIR"])
    bundle = manager.acquire(f"musicgen:{options.model}", kind="audio", loader=lambda: load_musicgen(
        options.model, models_dir=models_dir, device=manager.device))
    melody = ctx.upload_path(options.melody_file) if options.melody_file else None
    return run_musicgen(results_dir=ctx.results_dir(), options=options, bundle=bundle, progress=progress,
                        melody_path=melody, output_stem=f"musicgen_{ctx.job_id[:12]}")
