"""The model-free jobs of the CPU queue: audio features and music analysis (the no-op probe: probe.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from worker.features.pipeline import run_features
from worker.music.merged import RunSource
from worker.music.pipeline import run_pitch
from worker.progress import Progress

from ..cache import content_digest
from ..runner import JobContext, for_each_file


def features(ctx: JobContext, progress: Progress) -> dict:
    return for_each_file(ctx, progress, run_features)


def pitch(ctx: JobContext, progress: Progress) -> dict:
    def run_one(*, audio_path: Path, **kwargs: Any) -> dict:
        # the job and the upload's bytes: a run with `include` is merged into the earlier result of the same
        # upload, and only of the same bytes (worker/music/merged.py)
        source = RunSource(job_id=ctx.job_id, upload_sha256=content_digest(Path(audio_path)))
        return run_pitch(audio_path=audio_path, source=source, **kwargs)

    return for_each_file(ctx, progress, run_one)
