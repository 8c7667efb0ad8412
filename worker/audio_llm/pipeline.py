"""The audio-LLM job's entry point: one file through Gemma3NProcessor (processor.py)."""

from __future__ import annotations

from pathlib import Path

from worker.progress import Progress

from .options import Gemma3NOptions
from .passes import ModelHost
from .processor import Gemma3NProcessor


def run_gemma3n(*, manager: ModelHost, audio_path: Path, results_dir: Path, options: Gemma3NOptions,
                progress: Progress | None = None, image_path: Path | None = None) -> dict:
    """The job's entry point for one file (a batch calls it per file): see Gemma3NProcessor.process_file.
    image_path: the upload `options.image` names (album art), when it names one."""
    return Gemma3NProcessor(manager).process_file(audio_path, results_dir=results_dir, options=options,
                                                  progress=progress, image_path=image_path)
