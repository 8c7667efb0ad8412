"""The comparison job: the job's two to five files together, one LLM pass through the ModelManager."""

from __future__ import annotations

from worker.compare.options import CompareOptions
from worker.compare.pipeline import run_compare
from worker.progress import Progress

from ..runner import JobContext
from ..runtime import model_manager


def compare(ctx: JobContext, progress: Progress) -> dict:
    return run_compare(audio_paths=[ctx.upload_path(name) for name in ctx.files], results_dir=ctx.results_dir(),
                       options=ctx.options_as(CompareOptions), manager=model_manager(),
                       output_stem=f"compare_{ctx.job_id[:12]}", progress=progress)
