"""Which process (and thread) runs a job's attempt: its handle, and whether another one that started it still runs.

A job's record names its worker, and every pool child of a prefork worker carries that name: a running job whose
record names this same worker was taken for a killed child's job (the worker lives on, the job comes back to a new
child by its message's redelivery) and run again. A second delivery of the message reaching a live sibling child
(jobs/unacked.py puts back the message of a child still waiting to start; a sibling takes it) then ran the job twice.
The record's `process` (the handle below, written with the move to running) tells the two apart.
"""

from __future__ import annotations

import os
import threading
import uuid

import psutil

# a process created this long after the attempt started is not the one that started it (a reused pid): psutil's
# creation time rests on the boot time in whole seconds
CLOCK_SLACK_SECONDS = 2.0

_PROCESS: tuple[int, str] | None = None


def process_token() -> str:
    """This thread of this process among all that ever had its pid: a token made on first use in each process
    (a forked pool child inherits its parent's module state, so the pid is checked), and the thread, which runs
    one job at a time (a `--pool threads` worker runs several in one process)."""
    global _PROCESS
    if _PROCESS is None or _PROCESS[0] != os.getpid():
        _PROCESS = (os.getpid(), uuid.uuid4().hex[:12])
    return f"{_PROCESS[1]}.{threading.get_ident()}"


def own_handle() -> str:
    """This thread's handle: "<pid>:<token>", as the worker's job->process listing has it (Workers.set_current)."""
    return f"{os.getpid()}:{process_token()}"


def runs_elsewhere(handle: str | None, *, started_at: float | None) -> bool:
    """Whether `handle` (a job record's `process`, of an attempt started at `started_at` by this same worker) names
    another live process or thread of it: a sibling pool child (a child of this process's parent, not a zombie, and
    created before the attempt started: not a reused pid), or another live thread of this process. False for this
    very thread (its earlier run ended without its runner), a dead process, or none (a record of an older version)."""
    pid_text, _, token = (handle or "").partition(":")
    if not pid_text.isdigit() or not token:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        process, _, thread = token.partition(".")
        if process != process_token().partition(".")[0] or thread == str(threading.get_ident()):
            return False  # an earlier process with this pid, or this thread itself
        return any(str(t.ident) == thread for t in threading.enumerate())
    return _live_child(pid, parent=os.getppid(), started_at=started_at)


def child_is_gone(handle: str | None, *, started_at: float | None) -> bool:
    """Asked by a worker's main process of a job recorded on its own name: whether `handle` (the record's `process`)
    names a pool child of this process that is no longer the one that started the attempt: gone, a zombie, or its pid
    reused (not this process's child, or created after the attempt started). False for this process itself (a solo or
    threads pool: the main process runs the job, alive as it asks) and for a record without a handle (older version):
    neither is a pool child's job that could be lost while its worker lives on (jobs/recovery.py)."""
    pid_text, _, token = (handle or "").partition(":")
    if not pid_text.isdigit() or not token or int(pid_text) == os.getpid():
        return False
    return not _live_child(int(pid_text), parent=os.getpid(), started_at=started_at)


def _live_child(pid: int, *, parent: int, started_at: float | None) -> bool:
    """Whether `pid` is a live (not zombie) child of `parent` created before the attempt started at `started_at` (a
    later one only reused the pid of the process that started it)."""
    try:
        other = psutil.Process(pid)
        return (other.ppid() == parent and other.status() != psutil.STATUS_ZOMBIE
                and (started_at is None or other.create_time() <= started_at + CLOCK_SLACK_SECONDS))
    except psutil.Error:
        return False
