"""Progress callbacks shared by every pipeline.

A pipeline takes `progress(fraction, stage)` and calls it at its checkpoints; the
job layer's callback records the value and raises JobCanceled when the job was
canceled, so a checkpoint is also where cancellation takes effect.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]


def quiet(fraction: float, stage: str) -> None:
    """The callback to use when the caller passed none."""
    return None


def scaled(progress: Progress, start: float, end: float) -> Progress:
    """A callback for one part of the work, mapped into [start, end] of the whole."""
    def report(fraction: float, stage: str) -> None:
        progress(start + (end - start) * min(max(fraction, 0.0), 1.0), stage)
    return report
