"""The language-model jobs of the GPU queue: load, unload, generate, and the audio-LLM analysis."""

from __future__ import annotations

from worker.audio_llm.options import Gemma3NOptions
from worker.audio_llm.pipeline import run_gemma3n
from worker.errors import JobStopped
from worker.llm.options import GenerateOptions, ModelLoadOptions
from worker.llm.repetition import loop_warning
from worker.progress import Progress

from ..runner import JobContext, for_each_file
from ..runtime import model_manager


def model_load(ctx: JobContext, progress: Progress) -> dict:
    return model_manager().load_llm(str(ctx.options_as(ModelLoadOptions).model_type), progress=progress)


def model_unload(ctx: JobContext, progress: Progress) -> dict:
    return model_manager().unload(kind="llm")


def generate(ctx: JobContext, progress: Progress) -> dict:
    try:
        return with_loop_warning(model_manager().generate(ctx.options_as(GenerateOptions), progress=progress))
    except JobStopped as e:  # the text written before a cancel or the time limit is the stopped job's result
        e.finished = with_loop_warning(e.generated) if e.generated else e.generated
        raise


def with_loop_warning(result: dict) -> dict:
    """A generation's `result` whose `response` is stuck in a loop says so in its `warnings`, as the compare, lyrics,
    analysis and library answers do (worker/llm/repetition.py): a SmolLM2 reply of 55 lines of "- genre: ..." had
    come back from this route with none."""
    return {**result, "warnings": [*result.get("warnings", []), *loop_warning(str(result.get("response") or ""))]}


def gemma_3n(ctx: JobContext, progress: Progress) -> dict:
    options = ctx.options_as(Gemma3NOptions)
    image = ctx.upload_path(options.image) if options.image else None
    return for_each_file(ctx, progress, run_gemma3n, manager=model_manager(), image_path=image)
