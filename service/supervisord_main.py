"""supervisord as run.py starts it: the same program, with one note per log file that a full disk stops.

    python -m service.supervisord_main -c DATA_DIR/run/supervisord.conf

supervisord writes each program's output, and its own log, to files under DATA_DIR/logs. On a full disk (or
quota) every line it could not write printed a 9-line Python traceback ("OSError: [Errno 28] No space left on
device", from supervisor/loggers.py) on run.py's output: a stranger's trial of a full data disk read 81 of them in
90 s of an idle service, which hid the notes that mattered there and grew whatever file that output went to. Here
a log file that cannot be written for want of space says so once, with the reason, and once it takes lines again,
how many were lost meanwhile; any other logging error is printed as supervisord always did.
"""

from __future__ import annotations

import errno
import sys
from typing import Any

from supervisor import loggers, supervisord

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


def command(conf: str) -> list[str]:
    """The command line that runs supervisord with this module's notes, for run.py and the tests."""
    return [sys.executable, "-m", "service.supervisord_main", "-c", conf]


if __name__ == "__main__":
    install()
    supervisord.main()
