"""The no-op probe job (POST /jobs/probe): proves the path API -> Redis -> a worker -> job record.

A module of its own, importing nothing of the analysis: in jobs/work/analysis.py its first run in a GPU worker (which
does not preload the analysis modules) imported librosa, scipy and numba first, ~2.7 s of a 0.03 s job, so a probe
of a worker just (re)started answered seconds late.
"""

from __future__ import annotations

import os

from flask import current_app

from worker.progress import Progress

from ..runner import JobContext


def probe(ctx: JobContext, progress: Progress) -> dict:
    """Names the worker that ran it."""
    return {"worker": current_app.extensions.get("worker_identity"), "pid": os.getpid()}
