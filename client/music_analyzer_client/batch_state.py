"""The progress file of `batch`: which files were uploaded under which name, which jobs were started (with the
Idempotency-Key sent, written before the request) and how they ended. Written atomically after every change, so
a batch stopped at any point (Ctrl-C, a crash, a reboot) resumes without starting a job twice: a job whose
request was sent but whose answer was lost is asked for again with the same key, and the server answers with
the job the first request made.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .analyses import Analysis
from .config import state_dir
from .errors import MusicAnalyzerError, UsageError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

VERSION = 1


def default_state_path(folder: Path) -> Path:
    """In the user's state folder, named after the batch's folder (its absolute path hashed: unique, stable)."""
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
    return state_dir() / "batches" / f"{folder.resolve().name or 'root'}-{digest}.json"


def file_stamp(path: Path) -> dict[str, Any]:
    """Size and modification time: a file changed since the last run is analysed again."""
    st = path.stat()
    return {"size": st.st_size, "mtime": round(st.st_mtime, 3)}


class BatchState:
    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self.lock = threading.RLock()  # the batch's threads update their own files' entries

    @classmethod
    def new(cls, path: Path, *, folder: Path, url: str, user: str | None, session_id: str,
            analyses: list[Analysis]) -> BatchState:
        state = cls(path, {"version": VERSION, "folder": str(folder.resolve()), "url": url, "user": user,
                           "session_id": session_id,
                           "analyses": [{"name": a.name, "job_type": a.job_type, "options": a.options}
                                        for a in analyses],
                           "files": {}})
        state.save()
        return state

    @classmethod
    def load(cls, path: Path) -> BatchState | None:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise UsageError(f"the batch state file {path} is unreadable ({e}); delete it to start over") from e
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise UsageError(f"{path} is not a batch state file of this version; delete it to start over")
        return cls(path, data)

    @property
    def session_id(self) -> str:
        return str(self.data["session_id"])

    def analyses(self) -> list[Analysis]:
        return [Analysis(a["name"], a["job_type"], a.get("options") or {}) for a in self.data["analyses"]]

    def entry(self, rel: str, stamp: dict[str, Any]) -> dict[str, Any]:
        """The file's record; a fresh one when it is new or changed since it was recorded."""
        with self.lock:
            files = self.data["files"]
            found = files.get(rel)
            if found is None or found.get("stamp") != stamp:
                found = files[rel] = {"stamp": stamp, "name": None, "error": None, "jobs": {}}
            return dict(found)

    def update(self, rel: str, **changes: Any) -> None:
        with self.lock:
            self.data["files"][rel].update(changes)
            self.save()

    def update_job(self, rel: str, analysis: str, **changes: Any) -> None:
        with self.lock:
            self.data["files"][rel]["jobs"].setdefault(analysis, {}).update(changes)
            self.save()

    def job(self, rel: str, analysis: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.data["files"][rel]["jobs"].get(analysis) or {})

    def save(self) -> None:
        """Written to a file of this process' own, then renamed over the state; a failure (a full disk) stops
        the batch, never blamed on an audio file (a stranger's two runs raced on one temp name, and the loser
        recorded "t1.wav: cannot read it", which no --resume cleared)."""
        with self.lock:
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps(self.data, indent=1))
                os.replace(tmp, self.path)
            except OSError as e:
                tmp.unlink(missing_ok=True)
                raise MusicAnalyzerError(f"cannot write the batch progress file {self.path}: {e.strerror or e}",
                                         code="state_unwritable") from e


@contextmanager
def held(path: Path) -> Iterator[None]:
    """One batch run at a time per progress file: a second run on the same folder (or --state) is refused at once
    rather than racing the first on the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a+b") as fh:
        try:
            _lock(fh.fileno())
        except OSError as e:
            raise UsageError(f"another batch run is using {path}: let it finish, or give this one its own --state "
                             "FILE") from e
        yield  # the lock goes with the file's closing, or the process' end


def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # Windows: the first byte, without waiting
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
