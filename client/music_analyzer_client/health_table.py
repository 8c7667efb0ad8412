"""`health`'s per-worker table: what GET /health tells a caller with credentials of each worker (its queues, pid,
how long it has run, its numba warm-up, the jobs it runs now). The anonymous view names no worker: no table."""

from __future__ import annotations

import time
from typing import Any

from .ui import Output

WORKER_COLUMNS = ["worker", "state", "queues", "pid", "up", "warm-up", "running"]


def show_workers(out: Output, health: dict[str, Any], *, now: float | None = None) -> None:
    """The table after `health`'s summary lines (which stay as they were: scripts read them). No `workers` key is
    the public view (no credentials), which names none: said on stderr, once."""
    workers = health.get("workers")
    if not isinstance(workers, list):
        out.note("  (each worker's queues, warm-up and jobs: with credentials, e.g. `music-analyzer login`)")
        return
    library = health.get("library")
    if isinstance(library, dict) and library.get("ok") is False:  # the library routes answer 503 meanwhile
        out.out.print(f"  library   down: {library.get('error') or 'not reachable'}", style="yellow")
    if not workers:
        return
    out.out.print("")
    out.table(WORKER_COLUMNS, [worker_row(w, now=time.time() if now is None else now)
                               for w in sorted(workers, key=lambda w: (str(w.get("node")), str(w.get("name"))))])
    if any(w.get("current_jobs") for w in workers):
        # the server lists another user's job only to an admin (its id is theirs to know)
        out.note("  running: the jobs you may see (an admin sees every user's)")


def worker_row(worker: dict[str, Any], *, now: float) -> list[str]:
    age = worker.get("heartbeat_age_seconds")
    # a record past its heartbeats is listed until it expires: say how long it has been silent
    state = "alive" if worker.get("alive") else f"silent {_duration(float(age))}" if age is not None else "silent"
    started = worker.get("started_at")
    # the worker's clock against this one's: a small skew shows as a few seconds, never as a negative time
    up = _duration(max(now - float(started), 0.0)) if isinstance(started, int | float) else "-"
    jobs = [str(j) for j in worker.get("current_jobs") or []]
    # its node name (`cpu-1@host`, as `stopped` lines and the worker's own command name it); the record's name adds
    # the pid and a start tag (`cpu-1@host#4242.ab12cd`), which the pid column shows already
    name = worker.get("node") or worker.get("name") or "?"
    return [str(name), state, ", ".join(str(q) for q in worker.get("queues") or []) or "-",
            str(worker.get("pid") or "-"), up, warmup_text(worker.get("numba_warmup")),
            f"{len(jobs)}: {' '.join(jobs)}" if jobs else "idle"]


def warmup_text(warmup: Any) -> str:
    """The CPU worker's numba warm-up: "done (13.2 s)", "running (4.0 s)", "failed"; "-" where a worker has none
    (a GPU-only worker, or NUMBA_WARMUP=0)."""
    if not isinstance(warmup, dict) or not warmup.get("state"):
        return "-"
    seconds = warmup.get("seconds")
    return f"{warmup['state']} ({float(seconds):.1f} s)" if isinstance(seconds, int | float) else str(warmup["state"])


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} d {hours % 24} h"
