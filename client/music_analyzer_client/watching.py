"""Following several jobs at once (a thread each, on the job's event stream) and Ctrl-C while waiting for them.

The threads are daemons: one blocked in a read of a silent stream must not keep the program alive after the
user has chosen to stop.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .client import MusicAnalyzer
from .errors import MusicAnalyzerError
from .records import TERMINAL_STATES, Job, JobEvent
from .retries import RetryWatch
from .ui import Output, Tracker, eta_text, generation_text, place_text, status_text

# a command that is one job (models load|unload|generate, library ask|reindex): started with the two callbacks
# MusicAnalyzer.command takes, returning the job's result
Start = Callable[[Callable[[str], None], Callable[[JobEvent], None]], dict[str, Any]]


@dataclass
class Followed:
    job_id: str
    label: str
    record: Job | None = None  # the final record once the job has ended
    error: MusicAnalyzerError | None = None  # following it failed (the server went away)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def state(self) -> str:
        if self.record is not None:
            return str(self.record.get("state"))
        return "unknown" if self.error is not None else "waiting"


UNAVAILABLE_PATIENCE_SECONDS = 300.0  # how long a job is followed while its server answers "unavailable"
RETRY_FOLLOW_SECONDS = 2.0


class Follower:
    """Starts following a job and hands back a Followed whose `done` is set when the job has ended; `ended` receives
    each Followed as it ends, in the order they end."""

    def __init__(self, client: MusicAnalyzer, tracker: Tracker, *, poll_seconds: float = 1.0) -> None:
        self.client = client
        self.tracker = tracker
        self.poll_seconds = poll_seconds
        self.followed: list[Followed] = []
        self.ended: queue.Queue[Followed] = queue.Queue()
        self.lock = threading.Lock()

    def follow(self, job_id: str, label: str) -> Followed:
        """A job that has ended already is followed too: its stream (or long poll) answers at once."""
        item = Followed(job_id, label)
        with self.lock:
            self.followed.append(item)
        self.tracker.add(job_id, label)
        threading.Thread(target=self._run, args=(item,), name=f"follow-{job_id}", daemon=True).start()
        return item

    def _run(self, item: Followed) -> None:
        try:
            self._follow(item)
        except MusicAnalyzerError as e:
            item.error = e
        except Exception as e:  # never a traceback from a thread: the user sees the job as unknown
            item.error = MusicAnalyzerError(f"following job {item.job_id} failed: {e}", code="client_error")
        except SystemExit:  # rich's answer to a closed output pipe (`| head`): the main thread exits the same way
            item.error = MusicAnalyzerError("the output was closed", code="client_error")
            # unknown, whatever its end: the line that failed may be the one saying it succeeded, after the record was
            # kept, and rich then sends the output to /dev/null, so the run had ended 0 or 1 by a race (a full run)
            item.record = None
        finally:  # whatever happened, the main thread waiting for this job must wake
            item.done.set()
            self.ended.put(item)

    def _follow(self, item: Followed) -> None:
        """Follow the job's events to its end. The server away for a while (its Redis restarting: 503; the front
        without the API: 502) is waited out for up to UNAVAILABLE_PATIENCE_SECONDS, following again from the
        job's current state: a stranger's `analyze --wait` across a 20 s Redis restart printed "state unknown"
        and exited 1, though its jobs ran again and succeeded."""
        gone_since: float | None = None
        while True:
            try:
                # away_seconds=0: the server's absence is waited out here, once, with the bar kept (not twice over)
                for event in self.client.events(item.job_id, poll_seconds=self.poll_seconds, away_seconds=0):
                    gone_since = None
                    if event["event"] == "done":
                        self._finish(item, event["data"])
                        return
                    self.tracker.update(item.job_id, event["data"])
                return  # the stream ended without its last event: the caller sees the job as unknown
            except MusicAnalyzerError as e:
                if not (e.server_unavailable or e.unreachable):
                    raise
                gone_since = gone_since if gone_since is not None else time.monotonic()
                if time.monotonic() - gone_since > UNAVAILABLE_PATIENCE_SECONDS:
                    raise
                threading.Event().wait(RETRY_FOLLOW_SECONDS)  # a backoff between reconnections (the bar stays)

    def _finish(self, item: Followed, record: dict[str, Any]) -> None:
        item.record = record  # type: ignore[assignment]  # the server's record, typed as Job
        self.tracker.finish(item.job_id, record)

    def unfinished(self) -> list[Followed]:
        with self.lock:
            return [f for f in self.followed if not f.done.is_set()]


def wait_all(items: list[Followed]) -> None:
    """Block until every item is done (Ctrl-C interrupts: Event.wait is interruptible in the main thread)."""
    for item in items:
        item.done.wait()


def ask_cancel(client: MusicAnalyzer, job_ids: list[str], out: Output) -> list[str]:
    """After Ctrl-C: ask on the terminal (or read the answer from stdin) whether to cancel the unfinished jobs;
    returns those whose cancel the server took. The jobs run on while the question waits: those that have ended
    by the answer are said to have ended (with how), not canceled and not listed as left running (a stranger's
    "N" listed a job that had just succeeded as "left running", and "y" tried to cancel finished ones)."""
    if not job_ids:
        out.warn("interrupted")
        return []
    out.err.print(f"\ninterrupted: cancel the {len(job_ids)} unfinished job(s) on the server? [y/N] ", end="")
    try:
        answer = sys.stdin.readline().strip().lower()
    except (KeyboardInterrupt, EOFError, OSError):  # a second Ctrl-C: leave them running
        answer = ""
    job_ids = _still_unfinished(client, job_ids, out)
    if not job_ids:
        return []
    if answer not in ("y", "yes"):
        out.warn(f"left running: {' '.join(job_ids)} (cancel later with `music-analyzer cancel JOB`)")
        return []
    canceled = []
    for job_id in job_ids:
        try:
            state = client.cancel(job_id)["state"]
            out.warn(f"{job_id}: {state.replace('_', ' ')}")
            canceled.append(job_id)
        except MusicAnalyzerError as e:
            out.warn(f"{job_id}: {e.message}")
    return canceled


def _still_unfinished(client: MusicAnalyzer, job_ids: list[str], out: Output) -> list[str]:
    """The jobs the server has not yet ended, asked once the answer has come; those that ended while the question
    waited are said so. A job whose state cannot be read (the server away) counts as unfinished: the cancel, or
    the "left running" line, is then the user's to act on."""
    unfinished, ended = [], []
    for job_id in job_ids:
        try:
            state = str(client.job(job_id, retry=False).get("state"))
        except MusicAnalyzerError:
            state = "unknown"
        if state in TERMINAL_STATES:
            ended.append(f"{job_id} ({state})")
        else:
            unfinished.append(job_id)
    if ended:
        out.warn(f"ended while asking: {' '.join(ended)}")
    return unfinished


class CommandFollow:
    """One job a command starts and follows with a spinner that says what the job does; `queued` names it once
    the server has queued it, so a Ctrl-C can ask whether to cancel it (a stranger's generation ran on)."""

    def __init__(self, out: Output, label: str) -> None:
        self.out, self.label = out, label
        self.queued: list[str] = []

    def run(self, start: Start) -> dict[str, Any]:
        def started(job_id: str) -> None:
            self.queued.append(job_id)
            self.out.note(f"{self.label}: job {job_id} queued; Ctrl-C asks whether to cancel it")

        retries = RetryWatch()
        with self.out.busy(f"{self.label}: waiting for the GPU worker…") as spinner:
            def heard(event: JobEvent) -> None:  # the spinner said "waiting" throughout
                if event["event"] == "done":
                    return
                # a retry said as analyze's bars and lines say it (a line that stays), where the spinner went back
                # to "waiting" without a word
                if (retry := retries.news(self.label, event["data"])) is not None:
                    self.out.note(f"{self.label}: {retry}", style="yellow")
                if spinner is not None:
                    spinner.update(f"{self.label}: {job_text(event['data'])}")

            return start(started, heard)


def job_text(data: dict[str, Any]) -> str:
    """A followed job's state for the spinner: "waiting for the GPU worker…" while queued, then its stage and
    share done ("running · generating 40%")."""
    if data.get("state") == "queued":
        return f"waiting for the GPU worker{place_text(data, start=True)}…"
    share = data.get("progress")  # (a generation's tokens of its budget say it already)
    done = f" {share:.0%}" if isinstance(share, int | float) and 0 < share < 1 and not generation_text(data) else ""
    left = f", {left}" if (left := eta_text(data)) else ""  # the job's time left (a generation says its own)
    return f"{status_text(data)}{done}{left}"
