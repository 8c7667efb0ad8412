"""Progress callbacks shared by every pipeline.

A pipeline takes `progress(fraction, stage)` and calls it at its checkpoints; the
job layer's callback records the value and raises JobCanceled when the job was
canceled, so a checkpoint is also where cancellation takes effect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

Progress = Callable[[float, str], None]


def quiet(fraction: float, stage: str) -> None:
    """The callback to use when the caller passed none."""
    return None


def scaled(progress: Progress, start: float, end: float) -> Progress:
    """A callback for one part of the work, mapped into [start, end] of the whole."""
    def report(fraction: float, stage: str) -> None:
        progress(start + (end - start) * min(max(fraction, 0.0), 1.0), stage)
    return report


# What a report says beyond its share and stage, for the job's record and events: a text generation's tokens, rate
# and time left (worker/llm/meter.py). Set by the code that knows it around the calls it makes; every callback in
# between (scaled(), a batch's, a multi-pass analysis's) passes (fraction, stage) on unchanged, and the job's
# reporter (jobs/reporting.py) reads it in the same thread when it writes. A snapshot is made only when a report
# is written, so a report that writes nothing costs nothing more.
_detail: ContextVar[Callable[[], dict[str, Any]] | None] = ContextVar("progress_detail", default=None)


@contextmanager
def detail_from(snapshot: Callable[[], dict[str, Any]]) -> Iterator[None]:
    """Reports made inside the block carry `snapshot()` as their detail (see current_detail)."""
    token = _detail.set(snapshot)
    try:
        yield
    finally:
        _detail.reset(token)


_pass: ContextVar[dict[str, int] | None] = ContextVar("progress_pass", default=None)


@contextmanager
def pass_of(index: int, passes: int) -> Iterator[None]:
    """A generation inside the block is pass `index` of `passes` of its job (a long recording's analysis: a pass per
    chunk, then the merge): its detail says so, since its time left is this pass's alone. One pass says nothing."""
    token = _pass.set({"pass": index, "passes": passes} if passes > 1 else None)
    try:
        yield
    finally:
        _pass.reset(token)


def current_pass() -> dict[str, int]:
    """{"pass", "passes"} inside a pass_of block of several passes, else {}."""
    return _pass.get() or {}


def current_detail() -> dict[str, Any] | None:
    """The detail of a report made now (a generation's tokens and rate), None outside any detail_from block."""
    snapshot = _detail.get()
    return snapshot() if snapshot is not None else None
