"""A followed job's lost attempts: the line said when it goes back to the queue (or to a new process) after its worker
was lost, and the end line's note of them.

A stranger's `analyze --stems --wait`, its CPU worker killed 12 s into the job, printed `queued`, `running`, then
`queued` and `running` again and `succeeded (84.4 s, after 25.6 s queued)`: the dead attempt's 15 s counted as queue
time (its record's `started_at` is the retry's), and the retry was nowhere but in `attempts`, which the CLI never
showed. The record now keeps `first_started_at` and `lost_attempts`, and the stream's `state` events carry `attempts`.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from .spans import span_text

SHUT_DOWN_STAGE = "requeued after its worker was shut down"  # the server's stage of a graceful stop's re-queue
REASONS = {"worker_lost": "lost", "worker_shut_down": "shut down"}


def retry_attempt(data: dict[str, Any]) -> int | None:
    """The attempt a `state` event shows the job retrying, or None: `queued` again once it has run (`attempts` 1 or
    more: the next start is attempts + 1), or `running` a second time or more (a pool child's job is handed straight
    to a new child, never queued). None from a server that sends no `attempts`."""
    attempts = data.get("attempts")
    if not isinstance(attempts, int) or isinstance(attempts, bool):
        return None
    if data.get("state") == "queued" and attempts >= 1:
        return attempts + 1
    if data.get("state") == "running" and attempts >= 2:
        return attempts
    return None


def attempt_text(record: dict[str, Any]) -> str:
    """"attempt 2" for a job past its first attempt (a queued one its worker was lost under: the attempt it waits to
    start), "" for one on its first (or a server that sends no `attempts`): `ma jobs` had shown a retried job as any
    other, the retry in --json alone."""
    attempts = record.get("attempts")
    if not isinstance(attempts, int) or isinstance(attempts, bool):
        return ""
    attempt = attempts + 1 if record.get("state") == "queued" else attempts
    return f"attempt {attempt}" if attempt >= 2 else ""


class RetryWatch:
    """Per followed job, the last attempt said to be a retry: each retry is said once, however many events show it."""

    def __init__(self) -> None:
        self.said: dict[str, int] = {}
        self.lock = threading.Lock()

    def news(self, job_id: str, data: dict[str, Any]) -> str | None:
        """"worker lost, retrying (attempt 2)" the first time an event shows that retry, else None."""
        attempt = retry_attempt(data)
        with self.lock:
            if attempt is None or attempt <= self.said.get(job_id, 1):
                return None
            self.said[job_id] = attempt
        how = "shut down" if data.get("stage") == SHUT_DOWN_STAGE else "lost"
        return f"worker {how}, retrying (attempt {attempt})"


def lost_note(record: dict[str, Any]) -> str:
    """"attempt 2: a worker was lost 12.1 s into attempt 1" for a job that ran more than once, from its record's
    `lost_attempts` (the time is to the attempt's last event, its last sign of life: the loss is found a few heartbeats
    later; a record without it, to `lost_at`); "" for one that ran once. A server without the field:
    "attempt 2: an earlier attempt was lost"."""
    attempts = record.get("attempts")
    if not isinstance(attempts, int) or attempts < 2:
        return ""
    lost = [entry for entry in record.get("lost_attempts") or [] if isinstance(entry, dict)]
    if not lost:
        return f"attempt {attempts}: an earlier attempt was lost"
    return f"attempt {attempts}: " + ", ".join(_lost_text(entry) for entry in lost)


def _lost_text(entry: dict[str, Any]) -> str:
    how = REASONS.get(str(entry.get("reason")), "lost")
    heard = entry.get("last_heard_at") or entry.get("lost_at")  # its last sign of life, else when it was found lost
    try:
        ran = (datetime.fromisoformat(str(heard)) - datetime.fromisoformat(str(entry["started_at"])))
        into = f" {span_text(max(0.0, ran.total_seconds()))} into"
    except (KeyError, TypeError, ValueError):
        into = " during"
    return f"a worker was {how}{into} attempt {entry.get('attempt')}"
