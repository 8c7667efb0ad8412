"""Session folders on disk: safe ids and names, atomic writes.

Layout under DATA_DIR:
    sessions/<session_id>/uploads/<name>     what the user sent (validated audio)
    sessions/<session_id>/results/<name>     what jobs wrote
    tmp/                                     upload spool, same filesystem (rename is atomic)

A user-supplied name never reaches the filesystem unchecked: `safe_name` keeps
a conservative character set and `SessionStore.file_path` refuses anything that
would resolve outside the session folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from worker.errors import ConflictError, InvalidRequestError, NotFoundError
from worker.files import safe_name

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_STEM_SUFFIX = 1000  # x, x-1 ... x-999: uploads of one name in one session


def check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not SESSION_ID_RE.match(session_id):
        raise InvalidRequestError(
            "session id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'",
            code="invalid_session_id",
        )
    return session_id


class SessionStore:
    """Session folders under one data directory."""

    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir).resolve()
        self.sessions_dir = self.root / "sessions"
        self.tmp_dir = self.root / "tmp"
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    # -- sessions -----------------------------------------------------------
    def session_dir(self, session_id: str) -> Path:
        return self.sessions_dir / check_session_id(session_id)

    def exists(self, session_id: str) -> bool:
        return self.session_dir(session_id).is_dir()

    def create(self, session_id: str) -> Path:
        folder = self.session_dir(session_id)
        (folder / "uploads").mkdir(parents=True, exist_ok=True)
        (folder / "results").mkdir(parents=True, exist_ok=True)
        return folder

    def require(self, session_id: str) -> Path:
        folder = self.session_dir(session_id)
        if not folder.is_dir():
            raise NotFoundError(f"session {session_id!r} does not exist", code="session_not_found")
        return folder

    def delete(self, session_id: str) -> None:
        folder = self.require(session_id)
        # Rename first so a concurrent reader never sees a half-deleted folder.
        doomed = self.tmp_dir / f"deleted-{session_id}-{os.getpid()}-{id(folder)}"
        os.replace(folder, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    # -- files --------------------------------------------------------------
    def uploads_dir(self, session_id: str) -> Path:
        return self.require(session_id) / "uploads"

    def results_dir(self, session_id: str) -> Path:
        folder = self.require(session_id) / "results"
        folder.mkdir(exist_ok=True)
        return folder

    def list_files(self, session_id: str, area: str) -> list[dict]:
        folder = self.require(session_id) / area
        out = []
        for p in sorted(folder.glob("*")) if folder.is_dir() else []:
            if p.is_file() and not p.name.startswith("."):
                st = p.stat()
                out.append({"name": p.name, "bytes": st.st_size, "modified": st.st_mtime})
        return out

    def file_path(self, session_id: str, name: str, *, area: str | None = None) -> Path:
        """Path of an existing upload or result; 404 for anything else.

        The name must already be a safe name: anything that sanitising would
        change (slashes, dots in front, '..') is refused rather than repaired.
        """
        folder = self.require(session_id)
        if not name or name != _safe_or_none(name):
            raise NotFoundError(f"no file {name!r} in session {session_id!r}", code="file_not_found")
        areas = [area] if area else ["uploads", "results"]
        for a in areas:
            candidate = (folder / a / name).resolve()
            if candidate.parent == (folder / a).resolve() and candidate.is_file():
                return candidate
        raise NotFoundError(f"no file {name!r} in session {session_id!r}", code="file_not_found")

    def upload_names(self, session_id: str) -> list[str]:
        return [f["name"] for f in self.list_files(session_id, "uploads")]

    def claim_upload_path(self, session_id: str, name: str) -> Path:
        """A path for a new upload whose stem no other upload of the session has: `x.wav`, then `x-1.flac`...

        Result files are named after the upload's stem (features_x.json, pitch_x.mid), so two uploads
        sharing a stem would write each other's results. The claim is atomic (an O_EXCL marker per stem),
        so parallel uploads never get the same name; stems of uploads from older versions (no marker) are
        skipped too.
        """
        folder = self.uploads_dir(session_id)
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        for n in range(MAX_STEM_SUFFIX):
            candidate = stem if n == 0 else f"{stem}-{n}"
            if (folder / candidate).exists() or any(folder.glob(f"{candidate}.*")):
                continue
            try:
                os.close(os.open(folder / f".{candidate}.stem", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            except FileExistsError:
                continue
            return folder / (f"{candidate}.{ext}" if ext else candidate)
        raise ConflictError(f"session {session_id!r} already holds {MAX_STEM_SUFFIX} uploads named {stem!r}",
                            code="too_many_same_name")


def _safe_or_none(name: str) -> str | None:
    try:
        return safe_name(name)
    except InvalidRequestError:
        return None
