"""The lyrics job: a transcript (made first when the session has none: Whisper on the vocal stem when one
exists, else on the mix), then the LLM's analysis of the words."""

from __future__ import annotations

from pathlib import Path

from config import torch_threads
from worker.lyrics.options import LyricsOptions
from worker.lyrics.pipeline import run_lyrics, transcript_path
from worker.progress import Progress, scaled
from worker.transcription.options import WhisperOptions
from worker.transcription.pipeline import vocals_stem_path
from worker.transcription.weights import load_whisper

from ..runner import JobContext, for_each_file
from ..runtime import model_manager
from .transcription import transcribe_file


def lyrics(ctx: JobContext, progress: Progress) -> dict:
    options = ctx.options_as(LyricsOptions)
    image = ctx.upload_path(options.image) if options.image else None
    return for_each_file(ctx, progress, lyrics_file, job=ctx, image_path=image)


def lyrics_file(*, audio_path: Path, results_dir: Path, options: LyricsOptions, progress: Progress,
                job: JobContext, image_path: Path | None) -> dict:
    manager = model_manager()
    if transcript_path(results_dir, audio_path.stem) is None:
        source = "vocals" if vocals_stem_path(results_dir, audio_path) is not None else "mix"
        whisper_options = WhisperOptions(model=options.whisper_model, source=source).validate(job.settings)
        device = "cuda" if manager.device.startswith("cuda") else "cpu"
        model = manager.acquire(f"whisper:{whisper_options.model}", kind="audio", loader=lambda: load_whisper(
            whisper_options.model, models_dir=Path(job.settings["MODELS_DIR"]), device=device,
            cpu_threads=torch_threads(job.settings, device=device)))
        transcribe_file(audio_path=audio_path, results_dir=results_dir, options=whisper_options,
                        progress=scaled(_transcribed(progress), 0.0, 0.4), model=model, job=job)
        progress = scaled(progress, 0.4, 1.0)
    return run_lyrics(audio_path=audio_path, results_dir=results_dir, options=options, progress=progress,
                      manager=manager, image_path=image_path)


def _transcribed(progress: Progress) -> Progress:
    """The transcription's own last stage, "done", said as "transcribed": the job is not done (a stranger's lyrics
    job showed "done" at 40 %, then went on analysing)."""
    def report(fraction: float, stage: str) -> None:
        progress(fraction, "transcribed" if stage == "done" else stage)
    return report
