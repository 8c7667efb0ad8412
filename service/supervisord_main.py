"""supervisord as run.py starts it: the same program, with one note per log file that a full disk stops.

    python -m service.supervisord_main -c DATA_DIR/run/supervisord.conf

supervisord writes each program's output, and its own log, to files under DATA_DIR/logs. On a full disk (or
quota) every line it could not write printed a 9-line Python traceback ("OSError: [Errno 28] No space left on
device", from supervisor/loggers.py) on run.py's output: a stranger's trial of a full data disk read 81 of them in
90 s of an idle service, which hid the notes that mattered there and grew whatever file that output went to. Here
a log file that cannot be written for want of space says so once, with the reason, and once it takes lines again,
how many were lost meanwhile; any other logging error is printed as supervisord always did. And a stop goes from
one program to the next without supervisord's 1 s waits between (act_at_once).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from typing import Any

from supervisor import loggers, poller, supervisord

NO_ROOM = (errno.ENOSPC, errno.EDQUOT)

_dropped: dict[int, int] = {}  # id(handler) -> lines lost since its file stopped taking them
_original_emit = loggers.Handler.emit
_original_handle_error = loggers.Handler.handleError


def _where(handler: Any) -> str:
    return str(getattr(handler, "baseFilename", None) or getattr(handler.stream, "name", "a log"))


def _note(text: str) -> None:
    try:
        print(f"supervisord: {text}", file=sys.stderr, flush=True)
    except OSError:  # run.py's own output on the full disk too: nothing left to tell it on
        pass


def _handle_error(self: Any) -> None:
    error = sys.exc_info()[1]
    if not (isinstance(error, OSError) and error.errno in NO_ROOM):
        _original_handle_error(self)
        return
    key = id(self)
    if key not in _dropped:
        _dropped[key] = 0
        _note(f"cannot write {_where(self)}: {error.strerror}; its lines are lost until there is room again "
              "(free space on that disk; nothing needs restarting)")
    _dropped[key] += 1


def _emit(self: Any, record: Any) -> None:
    key = id(self)
    before = _dropped.get(key)
    _original_emit(self, record)
    if before is not None and _dropped.get(key) == before:  # this line was written: the file takes lines again
        del _dropped[key]
        _note(f"{_where(self)} is written again; {before} line(s) could not be written while the disk was full")


def install() -> None:
    """Route supervisord's logging errors through the notes above (every handler class inherits these two)."""
    loggers.Handler.emit = _emit
    loggers.Handler.handleError = _handle_error


_wake: list[int] = []  # the read end of the pipe Python's signal handling writes a byte to (set_wakeup_fd)
# supervisor's internals these replace (4.2-4.3); a release without them keeps its own waits (a slower stop, no error)
_original_poll = getattr(poller.Poller, "poll", None)


def _poll(self: Any, timeout: float) -> tuple[list[int], list[int]]:
    """supervisord's wait for something to read, which a signal now ends. It waits up to 1 s at a time and Python
    resumes a wait a signal interrupted (PEP 475), so a signal was acted on only when the wait ended: its own
    SIGTERM (the stop of a run.py killed outright came ~1 s late), a program's exit (SIGCHLD) that closed no pipe."""
    wake = _wake[0]
    self.register_readable(wake)
    assert _original_poll is not None  # installed only where it exists (act_at_once)
    readable, writable = _original_poll(self, timeout)
    if wake in readable:
        try:
            while os.read(wake, 512):  # non-blocking: drained, the next signal wakes the next wait
                pass
        except BlockingIOError:
            pass
    return [fd for fd in readable if fd != wake], writable


_original_stop_next = getattr(supervisord.Supervisor, "ordered_stop_groups_phase_1", None)


def _stop_next(self: Any) -> None:
    """Pass over the groups already stopped (the workers run.py stopped at once, a program that exited for good) to
    the next one with a program to stop: supervisord let each such group take a wait before it went on (the API's
    end to valkey's stop: 1-2 s of run.py's 4-6 s stop with every program idle)."""
    while self.stop_groups and not self.stop_groups[-1].get_unstopped_processes():
        self.stop_groups.pop()
    assert _original_stop_next is not None
    _original_stop_next(self)


def act_at_once() -> None:
    """A stop (and a restart) goes on as soon as it can: signals end supervisord's wait, stopped groups are passed
    over. run.py's stop with every program idle: 4.2-5.8 s before, 2.4-3.0 s after (tests/test_supervisord_stop.py)."""
    if _original_poll is not None and hasattr(poller.Poller, "register_readable"):
        read, write = os.pipe()  # not inherited by the programs (Python's pipes are close-on-exec)
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        _wake.append(read)
        poller.Poller.poll = _poll
    if _original_stop_next is not None:
        supervisord.Supervisor.ordered_stop_groups_phase_1 = _stop_next


def command(conf: str) -> list[str]:
    """The command line that runs supervisord with this module's notes, for run.py and the tests."""
    return [sys.executable, "-m", "service.supervisord_main", "-c", conf]


if __name__ == "__main__":
    install()
    act_at_once()
    supervisord.main()
