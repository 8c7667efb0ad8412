"""What the command line shows: results on stdout (JSON with --json, nothing else there), progress and notes on
stderr — live bars on a terminal, one line per state change otherwise (a log file, a CI job)."""

from __future__ import annotations

import json
import sys
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.status import Status
from rich.text import Text

from .errors import MusicAnalyzerError
from .retries import RetryWatch, lost_note
from .spans import span_text
from .tables import fitted_table

STATE_STYLE = {"succeeded": "green", "failed": "red", "canceled": "yellow", "running": "cyan", "queued": "dim"}


class Output:
    """stdout for results, stderr for everything a person reads while waiting."""

    def __init__(self, json_mode: bool) -> None:
        self.json = json_mode
        # markup off: file names and server messages are shown as they are ("[live] take 2.wav")
        # a pipe or a file gets tables as wide as their content (rich would wrap them at 80 columns)
        self.out = Console(highlight=False, markup=False, soft_wrap=True,
                           width=None if sys.stdout.isatty() else 1000)
        self.err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)

    def note(self, text: str, style: str | None = None) -> None:
        """Information for a person (stderr); silent with --json, where scripts read the exit code instead."""
        if not self.json:
            self.err.print(text, style=style)

    def warn(self, text: str) -> None:
        self.err.print(text, style="yellow")

    def emit(self, data: Any) -> None:
        """The machine-readable result: one JSON document on stdout."""
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def error(self, e: MusicAnalyzerError) -> None:
        self.err.print(f"error: {e}", style="bold red")
        if self.json:
            self.emit({"error": e.to_dict()})

    def table(self, columns: list[str], rows: list[list[str]], *, title: str | None = None) -> None:
        table, least = fitted_table(columns, rows, title=title)
        if self.out.is_terminal and least > self.out.width:
            # a terminal too narrow for its ids: the table as wide as they need, each row a line the terminal wraps
            Console(file=self.out.file, width=least, highlight=False, markup=False, soft_wrap=True,
                    force_terminal=True).print(table)
            return
        self.out.print(table)

    def busy(self, text: str) -> AbstractContextManager[Status | None]:
        """A spinner on a terminal while a request waits (a model loading can take minutes); else nothing."""
        if self.err.is_terminal and not self.json:
            return self.err.status(text)
        return nullcontext()

    def tracker(self, *, keep_finished: bool = True) -> Tracker:
        """Live bars when a person watches stderr, else state lines (none with --json). `keep_finished`: False
        removes a job's bar when it ends (a batch of hundreds shows the running ones and a total)."""
        if self.err.is_terminal and not self.json:
            return BarTracker(self.err, keep_finished=keep_finished)
        return LineTracker(self.err, quiet=self.json)


class Tracker(Protocol):
    """Shows jobs as they move; called from the threads that follow them."""

    def add(self, job_id: str, label: str) -> None: ...
    def update(self, job_id: str, data: dict[str, Any]) -> None: ...
    def finish(self, job_id: str, record: dict[str, Any]) -> None: ...
    def overall(self, label: str, total: int) -> None: ...
    def advance_overall(self) -> None: ...
    def __enter__(self) -> Tracker: ...
    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None: ...


def place_text(data: dict[str, Any], *, start: bool = False) -> str:
    """A queued job's place in its queue, " (next)" or " (3 ahead)", from the server's `jobs_ahead`; "" unknown.
    `start`: with when it may start, " (3 ahead, starts in about 2 min)" (the server's `eta.starts_in`)."""
    ahead = data.get("jobs_ahead")
    if data.get("state") != "queued":
        return ""
    known = isinstance(ahead, int) and not isinstance(ahead, bool)
    parts = ["next" if ahead == 0 else f"{ahead} ahead"] if known else []
    if start and (starts := start_text(data)):
        parts.append(starts)
    return f" ({', '.join(parts)})" if parts else ""


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else None


def start_text(data: dict[str, Any], seconds: float | None = None) -> str:
    """When a queued job may start, "starts in about 2 min", from the server's `eta.starts_in` (or `seconds` of it
    left); "" without one, or under a second (its place says it is next)."""
    eta = data.get("eta")
    starts = seconds if seconds is not None else _seconds(eta.get("starts_in")) if isinstance(eta, dict) else None
    return f"starts in about {left_text(starts)}" if starts is not None and starts >= 1 else ""


def eta_text(data: dict[str, Any], seconds: float | None = None) -> str:
    """A running job's time left, "about 40 s left", from the server's `eta.seconds_left` (or `seconds` of it left);
    "" without one, and while a text generation shows its own ("up to 28 s left": generation_text)."""
    eta = data.get("eta")
    if data.get("state") != "running" or isinstance(data.get("generation"), dict):
        return ""
    left = seconds if seconds is not None else _seconds(eta.get("seconds_left")) if isinstance(eta, dict) else None
    return f"about {left_text(left)} left" if left is not None and left >= 1 else ""


def left_text(seconds: float) -> str:
    """A time left as a person reads it: "28 s", "4 min 10 s" (whole seconds: it is an estimate)."""
    return f"{max(round(seconds), 1)} s" if seconds < 60 else span_text(seconds)


def generation_text(data: dict[str, Any]) -> str | None:
    """A running text generation's stage from the job's `generation` (servers before it: None): "generating
    120/512 tokens, 14 tok/s, up to 28 s left" (up to: the model may end its answer before its max_new_tokens), or
    while a long prompt is read "reading the prompt (6300 tokens), 12/30 layers, about 40 s left"; "pass 2/4: "
    before either in an analysis of several passes."""
    detail = data.get("generation")
    if data.get("state") != "running" or not isinstance(detail, dict):
        return None
    rate, left = detail.get("tokens_per_second"), detail.get("seconds_left")
    # one pass of several (a long recording's analysis): the time left is this pass's
    of = f"pass {detail['pass']}/{detail['passes']}: " if detail.get("pass") and detail.get("passes") else ""
    if detail.get("phase") == "prompt":
        parts = [str(data.get("stage") or "reading the prompt")]
        if detail.get("layers"):
            parts.append(f"{detail.get('layers_read', 0)}/{detail['layers']} layers")
        if isinstance(prompt_left := detail.get("prompt_seconds_left"), int | float):
            parts.append(f"about {left_text(prompt_left)} left")
        return of + ", ".join(parts)
    parts = [f"generating {detail.get('tokens_generated', 0)}/{detail.get('max_new_tokens', '?')} tokens"]
    if isinstance(rate, int | float) and rate > 0:
        parts.append(f"{rate:.0f} tok/s" if rate >= 10 else f"{rate:.1f} tok/s")
    if isinstance(left, int | float):
        parts.append(f"up to {left_text(left)} left")
    return of + ", ".join(parts)


def status_text(data: dict[str, Any]) -> str:
    state = str(data.get("state") or "")
    stage = generation_text(data) or str(data.get("stage") or "")
    if state == "queued":
        return f"queued{place_text(data)}"
    if state == "failed":
        return f"failed: {(data.get('error') or {}).get('message', '')}"
    return f"{state} · {stage}" if stage and stage != state and state == "running" else state


class EtaColumn(ProgressColumn):
    """A job's estimate, counted down between its events (a job reports when its shown percent changes: a long one
    every few seconds): "about 40 s left" running, "starts in about 2 min" queued; nothing once it has run out (the
    job is late on it: its next event says more) or where the server gave none."""

    def render(self, task: Task) -> Text:
        until, what = task.fields.get("until"), task.fields.get("until_what")
        if until is None or task.finished or task.stop_time is not None:
            return Text("")
        left = until - time.monotonic()
        return Text(eta_text({"state": "running"}, left) if what == "left" else start_text({}, left))


def eta_until(data: dict[str, Any]) -> tuple[float | None, str | None]:
    """(the monotonic time the job's estimate runs out, "left" or "starts") from an event's `eta`."""
    eta, state = data.get("eta"), data.get("state")
    if not isinstance(eta, dict) or (state == "running" and isinstance(data.get("generation"), dict)):
        return None, None
    what = "left" if state == "running" else "starts" if state == "queued" else None
    seconds = _seconds(eta.get("seconds_left" if what == "left" else "starts_in")) if what else None
    return (time.monotonic() + seconds, what) if seconds is not None else (None, None)


class BarTracker:
    """One rich progress bar per job, on stderr."""

    def __init__(self, console: Console, *, keep_finished: bool = True) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=30), TaskProgressColumn(),
                                 TextColumn("{task.fields[status]}"), EtaColumn(), TimeElapsedColumn(),
                                 console=console)
        self.keep_finished = keep_finished
        self.tasks: dict[str, TaskID] = {}
        self.total: TaskID | None = None
        self.count = (0, 0)  # files handled, files in all
        self.lock = threading.Lock()
        self.retries = RetryWatch()
        self.labels: dict[str, str] = {}
        self.states: dict[str, str] = {}

    def overall(self, label: str, total: int) -> None:
        self.total, self.count = self.progress.add_task(label, total=total, status=f"0/{total}"), (0, total)

    def advance_overall(self) -> None:
        if self.total is not None:
            with self.lock:
                self.count = (self.count[0] + 1, self.count[1])
            self.progress.update(self.total, completed=self.count[0], status=f"{self.count[0]}/{self.count[1]}")

    def __enter__(self) -> BarTracker:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.progress.stop()

    def add(self, job_id: str, label: str) -> None:
        with self.lock:
            self.tasks[job_id] = self.progress.add_task(label, total=100, status="queued", until=None, until_what=None)
            self.states[job_id] = "queued"
            self.labels[job_id] = label

    def update(self, job_id: str, data: dict[str, Any]) -> None:
        progress = float(data.get("progress") or 0.0)
        if (retry := self.retries.news(job_id, data)) is not None:  # above the bars, as a line that stays
            self.progress.console.print(f"{self.labels.get(job_id, job_id)}: {retry}", style="yellow")
        # an event without an `eta` in the same state (a batch's finished file, an older server's) keeps the one told
        kept = "eta" not in data and self.states.get(job_id) == data.get("state")
        self.states[job_id] = str(data.get("state"))
        until: dict[str, Any] = {} if kept else dict(zip(("until", "until_what"), eta_until(data), strict=True))
        self.progress.update(self.tasks[job_id], completed=100 * progress, status=status_text(data), **until)

    def finish(self, job_id: str, record: dict[str, Any]) -> None:
        done = record.get("state") == "succeeded"
        task = self.tasks[job_id]
        self.progress.update(task, status=status_text(record) + end_note(record), until=None,
                             completed=100 if done else 100 * float(record.get("progress") or 0.0))
        self.progress.stop_task(task)
        if not self.keep_finished:
            self.progress.remove_task(task)


class LineTracker:
    """A line per state change ("queued", "running", "succeeded in 3.1 s"), for logs and pipes."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.labels: dict[str, str] = {}
        self.states: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.lock = threading.Lock()
        self.retries = RetryWatch()

    def __enter__(self) -> LineTracker:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Silent from here on, as the bars stop: the threads still following jobs after a Ctrl-C had printed
        their state lines over the "cancel them? [y/N]" question."""
        self.quiet = True

    def add(self, job_id: str, label: str) -> None:
        with self.lock:
            self.labels[job_id] = label
            self.started[job_id] = time.monotonic()

    def overall(self, label: str, total: int) -> None:
        return None  # each job's end is a line already

    def advance_overall(self) -> None:
        return None

    def _say(self, job_id: str, state: str, text: str) -> None:
        with self.lock:
            if self.states.get(job_id) == state:
                return
            self.states[job_id] = state
        if not self.quiet:
            self.console.print(f"{self.labels.get(job_id, job_id)}: {text}", style=STATE_STYLE.get(state))

    def update(self, job_id: str, data: dict[str, Any]) -> None:
        """A line when the state changes; a queued job's first line with its place ("queued (3 ahead)"), not a line
        per move (a log of a long queue would hold one per job started ahead of it)."""
        state = str(data.get("state") or "")
        if (retry := self.retries.news(job_id, data)) is not None:
            with self.lock:
                self.states.pop(job_id, None)  # the retry's own state line follows (a new child's: `running` again)
            if not self.quiet:
                self.console.print(f"{self.labels.get(job_id, job_id)}: {retry}", style="yellow")
        self._say(job_id, state, f"{state}{place_text(data, start=True)}")

    def finish(self, job_id: str, record: dict[str, Any]) -> None:
        seconds = ran_seconds(record)
        if seconds is None:  # (a server that gives no times: how long this client followed it)
            seconds = time.monotonic() - self.started.get(job_id, time.monotonic())
        state = str(record.get("state"))
        lost = f"; {note}" if (note := lost_note(record)) else ""
        if from_cache(record):  # no run to time: "(0.0 s)" had read as if nothing was done
            self._say(job_id, state, f"{status_text(record)} ({CACHED_NOTE})")
            return
        timing = f"{seconds:.1f} s{queued_note(record)}{lost}"
        if state == "failed":  # the time before the error's words: after them, "lasts 0.00 s; ... (0.0 s)" read as one
            self._say(job_id, state, f"failed ({timing}): {(record.get('error') or {}).get('message', '')}")
            return
        self._say(job_id, state, f"{status_text(record)} ({timing})")


CACHED_NOTE = "answered from the cache: the same audio and options ran before"


def from_cache(record: dict[str, Any]) -> bool:
    """A job the server answered with an earlier result of the same audio and options (`result.cached`)."""
    result = record.get("result")
    return record.get("state") == "succeeded" and isinstance(result, dict) and result.get("cached") is True


# a wait in the queue shorter than this is not mentioned (a free worker takes a job in well under a second)
QUEUED_NOTICEABLE_SECONDS = 2.0


def end_note(record: dict[str, Any]) -> str:
    """A bar's end: " (after 9 min 2 s queued; attempt 2: a worker was lost 12.1 s into attempt 1)", either part
    alone, " (answered from the cache: ...)" for a cached answer, or ""."""
    parts = [part for part in (CACHED_NOTE if from_cache(record) else "", queued_note(record, alone=True).strip()[1:-1],
                               lost_note(record)) if part]
    return f" ({'; '.join(parts)})" if parts else ""


def queued_note(record: dict[str, Any], *, alone: bool = False) -> str:
    """", after 9 min 2 s queued" (alone: " (after 9 min 2 s queued)") when the job waited in the queue at least
    QUEUED_NOTICEABLE_SECONDS (created_at to its first start), else "": a lyrics job that ran 3.7 s after 9 minutes
    behind an LLM job on the GPU queue had printed "succeeded (3.7 s)", and the wait was nowhere. A retried job's
    `started_at` is its last attempt's: up to it, the lost attempts' run had read as queue time (`first_started_at`;
    a server without it: `started_at`)."""
    first = "first_started_at" if record.get("first_started_at") else "started_at"
    try:
        created, started = (datetime.fromisoformat(str(record[k])) for k in ("created_at", first))
    except (KeyError, TypeError, ValueError):
        return ""
    waited = (started - created).total_seconds()
    if waited < QUEUED_NOTICEABLE_SECONDS:
        return ""
    return f" (after {span_text(waited)} queued)" if alone else f", after {span_text(waited)} queued"


def ran_seconds(record: dict[str, Any]) -> float | None:
    """How long the job ran on the server (started_at to finished_at), None without both. A job an earlier run had
    started and that ended before this client followed it had printed "(0.0 s)", the time it was followed."""
    try:
        started, finished = (datetime.fromisoformat(str(record[k])) for k in ("started_at", "finished_at"))
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (finished - started).total_seconds())
