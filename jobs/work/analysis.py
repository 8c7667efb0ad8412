"""The model-free jobs of the CPU queue: audio features, music analysis, and the no-op probe."""

from __future__ import annotations

import os

from flask import current_app

from worker.features.pipeline import run_features
from worker.music.pipeline import run_pitch
from worker.progress import Progress

from ..runner import JobContext, for_each_file


def features(ctx: JobContext, progress: Progress) -> dict:
    return for_each_file(ctx, progress, run_features)


def pitch(ctx: JobContext, progress: Progress) -> dict:
    return for_each_file(ctx, progress, run_pitch)


def probe(ctx: JobContext, progress: Progress) -> dict:
    """Proves the path API -> Redis -> a worker -> job record, naming the worker that ran it."""
    return {"worker": current_app.extensions.get("worker_identity"), "pid": os.getpid()}
