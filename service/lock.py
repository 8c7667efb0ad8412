"""One run per data directory: two runs on the same DATA_DIR would share queues, worker names and files.

The lock is an flock on DATA_DIR/run.lock, held as long as the run lives: the kernel drops it when the
holder dies, even by kill -9, so a stale file never blocks the next start. The file also names the
holder's pid, for the refusal message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class AlreadyRunning(RuntimeError):
    """Another run holds the data directory."""


class DataDirLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise AlreadyRunning naming the holder; never waits."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if holder.isdigit() and not _alive(int(holder)):
                # run.py killed with -9: its supervisord (which inherited the lock) is still stopping the programs,
                # up to a minute; "already serving" named a dead pid (a stranger's restart a second later)
                raise AlreadyRunning(f"the previous run (pid {holder}, gone) is still stopping its programs, which "
                                     f"hold {self.path.parent}; retry in a minute") from None
            raise AlreadyRunning(f"another run (pid {holder}) is already serving {self.path.parent}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def fds(self) -> tuple[int, ...]:
        """The lock's descriptor, for a child that must inherit the lock (none when not held)."""
        return () if self.fd is None else (self.fd,)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor of the open file releases the flock
            self.fd = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
