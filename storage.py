"""Session folders on disk, one namespace per owner: safe ids and names, atomic writes.

Layout under DATA_DIR:
    users/<owner>/sessions/<session_id>/uploads/<name>    what the user sent (validated audio)
    users/<owner>/sessions/<session_id>/results/<name>    what jobs wrote
    sessions/<session_id>/...                             owner-less sessions of older versions (see below)
    tmp/                                                  upload spool, same filesystem (rename is atomic)

Session ids are per owner: two users may both have a session "demo", and neither can tell. An ordinary
user reaches only their own folder; an admin reaches every owner's (`SessionRoot.resolve`). Sessions made
by versions without owners sit in DATA_DIR/sessions and are moved into the first admin's folder at start
(`SessionRoot.adopt_legacy`, called by jobs/migration.py); until then no ordinary user reaches them.

An owner's folder is the name itself when it is plain (letters, digits, `_.@-`), else `~` and the
name's UTF-8 in hex, so no name can reach outside `users/` or take another's folder.

A user-supplied name never reaches the filesystem unchecked: `safe_name` keeps
a conservative character set and `SessionStore.file_path` refuses anything that
would resolve outside the session folder.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
from pathlib import Path

from users import Caller
from worker.errors import ConflictError, InvalidRequestError, NotFoundError, echo
from worker.files import is_image_name, safe_name

# always fullmatch: `$` also matches before a final newline (a stranger made a session named "x\n", whose page said
# it was no session id)
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_STEM_SUFFIX = 1000  # x, x-1 ... x-999: uploads of one name in one session
LEGACY_OWNER = ""  # the owner of sessions and jobs made by versions without owners
_PLAIN_OWNER_RE = re.compile(r"^[A-Za-z0-9_@][A-Za-z0-9_.@-]{0,99}$")  # used as a folder name as is
_ENCODED_PREFIX = "~"  # never in a plain name: encoded and plain folder names cannot meet
SESSIONS_LOCK = ".sessions.lock"  # beside an owner's sessions folder: held while a new session is counted and made


def check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not SESSION_ID_RE.fullmatch(session_id):
        raise InvalidRequestError(
            "session id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'",
            code="invalid_session_id",
        )
    return session_id


def session_not_found(session_id: str) -> NotFoundError:
    """The one answer for a session that does not exist and for one the caller may not see."""
    return NotFoundError(f"session {echo(session_id)} does not exist", code="session_not_found")


def missing_file(folder: Path, session_id: str, name: str | None, area: str | None = None) -> NotFoundError:
    """The error for a file (`name`, or None: one of a request's) not found in a session folder that existed a
    moment before: a session DELETE renames the whole folder away at once, so a folder gone now means the session
    went (a stranger's request racing a session delete was told file_not_found). One in the other `area` is said."""
    if area and name and (folder / (other := "results" if area == "uploads" else "uploads") / name).is_file():
        return NotFoundError(f"no file {echo(name)} in the {area} of session {echo(session_id)}: it is one of its "
                             f"{other}", code="file_not_found", details={"area": other})
    if not folder.is_dir():
        return session_not_found(session_id)
    if name is None:
        return NotFoundError(f"a file of the request left session {echo(session_id)} as it was read",
                             code="file_not_found")
    stored = _stored_as(folder / "uploads", name)
    if stored is not None:  # the upload of that name took another, its stem being a result name already
        return NotFoundError(f"no file {echo(name)} in session {echo(session_id)}: it was uploaded as {echo(stored)} "
                             "(another upload holds its stem); use that name", code="file_not_found",
                             details={"uploaded_as": stored})
    return NotFoundError(f"no file {echo(name)} in session {echo(session_id)}", code="file_not_found")


def _stored_as(uploads: Path, name: str) -> str | None:
    """The one upload named `<stem>-<n>.<ext>` for `name` `<stem>.<ext>` (claim_upload_path's renaming), if any."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return None
    renamed = re.compile(rf"{re.escape(stem)}-[0-9]+\.{re.escape(ext)}")
    found = [p.name for p in uploads.iterdir() if renamed.fullmatch(p.name)] if uploads.is_dir() else []
    return found[0] if len(found) == 1 else None


def upload_description(upload: Path) -> Path:
    """Where what decoding an upload found (format, length, rate: api/uploads.py writes it) sits beside it."""
    return upload.with_name(f".{upload.name}.json")


def too_many_sessions(owner: str, limit: int) -> ConflictError:
    return ConflictError(f"{owner} has {limit} sessions, the most one user may hold (MAX_SESSIONS_PER_USER); delete "
                         "some to make room", code="too_many_sessions")


def _make_session(folder: Path) -> Path:
    (folder / "uploads").mkdir(parents=True, exist_ok=True)
    (folder / "results").mkdir(parents=True, exist_ok=True)
    return folder


def owner_folder(owner: str) -> str:
    if not owner:
        raise ValueError("the owner-less namespace has no folder under users/")
    return owner if _PLAIN_OWNER_RE.fullmatch(owner) else _ENCODED_PREFIX + owner.encode().hex()


def owner_of_folder(folder: str) -> str:
    return bytes.fromhex(folder[1:]).decode() if folder.startswith(_ENCODED_PREFIX) else folder


class SessionStore:
    """The session folders of one owner (`SessionRoot.of`)."""

    def __init__(self, *, sessions_dir: Path, tmp_dir: Path, owner: str):
        self.owner = owner
        self.sessions_dir = sessions_dir
        self.tmp_dir = tmp_dir

    # -- sessions -----------------------------------------------------------
    def session_dir(self, session_id: str) -> Path:
        return self.sessions_dir / check_session_id(session_id)

    def exists(self, session_id: str) -> bool:
        return self.session_dir(session_id).is_dir()

    def create(self, session_id: str, *, max_sessions: int | None = None) -> Path:
        """The session's folders (a session that exists is left as it is). With `max_sessions`, a new one is made
        only while the owner holds fewer, counted and made under a lock on the owner's folder: requests arriving
        together cannot pass the limit together (a stranger's 8 simultaneous uploads to new ids, one session
        left to them, had made 5)."""
        folder = self.session_dir(session_id)
        if max_sessions is None or folder.is_dir():
            return _make_session(folder)
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        with open(self.sessions_dir.parent / SESSIONS_LOCK, "ab") as lock:  # every API process on this disk
            fcntl.flock(lock, fcntl.LOCK_EX)  # released with the file
            if not folder.is_dir() and self.session_count() >= max_sessions:
                raise too_many_sessions(self.owner, max_sessions)
            return _make_session(folder)

    def require(self, session_id: str) -> Path:
        folder = self.session_dir(session_id)
        if not folder.is_dir():
            raise session_not_found(session_id)
        return folder

    def session_ids(self) -> list[str]:
        if not self.sessions_dir.is_dir():
            return []
        return sorted(p.name for p in self.sessions_dir.iterdir() if p.is_dir() and SESSION_ID_RE.fullmatch(p.name))

    def session_count(self) -> int:
        return len(self.session_ids())

    def used_bytes(self) -> int:
        """What the owner's sessions take on disk, as `du` counts it: the blocks of every file, hidden ones
        (decoded info, digests) too, and of the folders themselves (so empty sessions are not free: a million of
        them fill a disk's inodes and blocks as surely as audio does).

        A walk, not a counter: workers on other machines write results, and a crash leaves no count to mend.
        Only uploads, new jobs and GET /sessions ask for it (thousands of files take milliseconds).
        """
        total = 0
        linked: set[tuple[int, int]] = set()  # a file with several names counts once, as du counts it (a re-run's
        pending = [self.sessions_dir]          # hidden copy of the results it replaces is a second name, not bytes)
        while pending:
            try:
                entries = list(os.scandir(pending.pop()))
            except (FileNotFoundError, NotADirectoryError):  # a session deleted while walked
                continue
            for entry in entries:
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                    if is_dir:
                        pending.append(Path(entry.path))
                    st = entry.stat(follow_symlinks=False)
                    if st.st_nlink > 1 and not is_dir:
                        if (st.st_dev, st.st_ino) in linked:
                            continue
                        linked.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512  # POSIX: 512-byte units
                except FileNotFoundError:
                    continue
        return total

    def delete(self, session_id: str) -> None:
        folder = self.require(session_id)
        # Rename first so a concurrent reader never sees a half-deleted folder.
        doomed = self.tmp_dir / f"deleted-{session_id}-{os.getpid()}-{os.urandom(6).hex()}"
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
            raise NotFoundError(f"no file {echo(name)} in session {echo(session_id)}", code="file_not_found")
        areas = [area] if area else ["uploads", "results"]
        for a in areas:
            candidate = (folder / a / name).resolve()
            if candidate.parent == (folder / a).resolve() and candidate.is_file():
                return candidate
        raise missing_file(folder, session_id, name, area)

    def upload_names(self, session_id: str) -> list[str]:
        """The session's audio uploads (what a batch job analyses); images are album art for the models."""
        return [f["name"] for f in self.list_files(session_id, "uploads") if not is_image_name(f["name"])]

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

    def delete_upload(self, session_id: str, name: str) -> None:
        """Delete an upload and what sits beside it (its decoded info, its content digest). Its stem's claim stays:
        the results named after it stay too, and a later upload of the name becomes `x-1.wav`, not a second
        owner of those results."""
        path = self.file_path(session_id, name, area="uploads")
        for leftover in (path, upload_description(path), path.with_name(f".{path.name}.sha256")):
            leftover.unlink(missing_ok=True)

    @staticmethod
    def discard_upload(path: Path) -> None:
        """Take back an upload claimed by `claim_upload_path` whose request failed (a full disk midway): the
        file, its stem's claim and what sits beside it (the decoded info, a content digest)."""
        stem = path.name.rpartition(".")[0] or path.name
        for leftover in (path, upload_description(path), path.with_name(f".{path.name}.sha256"),
                         path.with_name(f".{stem}.stem")):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass


def _safe_or_none(name: str) -> str | None:
    try:
        return safe_name(name)
    except InvalidRequestError:
        return None


DATA_DIR_ID_FILE = ".data-dir-id"


class SessionRoot:
    """Every owner's session folders under one data directory; resolves a session id for a caller."""

    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir).resolve()
        self.users_dir = self.root / "users"
        self.legacy_dir = self.root / "sessions"
        self.tmp_dir = self.root / "tmp"
        for folder in (self.users_dir, self.tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def identity(self) -> str | None:
        """This data directory's own random name (`DATA_DIR/.data-dir-id`, made once by the first process to ask):
        the same on every machine that mounts the shared directory, another on a worker whose `DATA_DIR` is a folder
        of its own, which had taken jobs and failed them `session_not_found` (jobs/runner.py). None when it cannot be
        read or made (a full disk): the check is then skipped."""
        marker = self.root / DATA_DIR_ID_FILE
        try:
            return marker.read_text().strip() or None
        except FileNotFoundError:
            pass
        except OSError:
            return None
        tmp = self.root / f"{DATA_DIR_ID_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            tmp.write_text(secrets.token_hex(16) + "\n")
            try:
                os.link(tmp, marker)  # whole or not at all, and never over another process's name
            except FileExistsError:
                pass
            return marker.read_text().strip() or None
        except OSError:
            return None
        finally:
            tmp.unlink(missing_ok=True)

    def of(self, owner: str) -> SessionStore:
        """`owner`'s sessions; LEGACY_OWNER ('') gives the owner-less folders of older versions, which only
        the worker asks for (a job record without an owner)."""
        sessions = self.legacy_dir if owner == LEGACY_OWNER else self.users_dir / owner_folder(owner) / "sessions"
        return SessionStore(sessions_dir=sessions, tmp_dir=self.tmp_dir, owner=owner)

    def holds_data_of(self, owner: str) -> bool:
        """`owner` has a folder here, a removed user's too (os.path: a name too long for one has none, not a 500)."""
        return bool(owner) and os.path.isdir(self.users_dir / owner_folder(owner))

    def owners_holding(self, session_id: str) -> list[str]:
        """The owners that have a session `session_id` (owner-less folders not included)."""
        check_session_id(session_id)
        return sorted(owner_of_folder(d.name) for d in self.users_dir.iterdir()
                      if (d / "sessions" / session_id).is_dir())

    def namespace(self, caller: Caller, *, owner: str | None = None) -> SessionStore:
        """Where `caller` creates sessions: their own folder, or `owner`'s when they may act for them."""
        if owner is None or owner == caller.name:
            return self.of(caller.name)
        if not owner or not caller.may_see(owner):
            raise NotFoundError(f"no sessions of owner {echo(owner)} are visible to you", code="owner_not_found")
        return self.of(owner)

    def resolve(self, session_id: str, caller: Caller, *, owner: str | None = None) -> SessionStore:
        """The store holding the existing session `session_id` that `caller` may reach; 404 otherwise.

        An ordinary user has one namespace, their own. An admin's own session comes first; else the one
        owner holding that id; several owners: 409 listing them, and `owner` names the one meant.
        """
        check_session_id(session_id)
        if owner is not None or not caller.admin:
            store = self.namespace(caller, owner=owner)
            store.require(session_id)
            return store
        own = self.of(caller.name)
        if own.exists(session_id):
            return own
        holders = self.owners_holding(session_id)
        if not holders:
            raise session_not_found(session_id)
        if len(holders) > 1:
            raise ConflictError(f"several users have a session {session_id!r}; name the one meant with "
                                f"?owner=<name>", code="ambiguous_session", details={"owners": holders})
        return self.of(holders[0])

    def resolve_or_new(self, session_id: str, caller: Caller, *, owner: str | None = None) -> SessionStore:
        """For an upload: the existing session the caller may reach, else the caller's (new) one.

        An admin's upload without `owner` goes to their own session only: resolving the id among other users
        (as reads do) put an admin's file, and then their jobs and library tracks, into whichever user had
        made a session of that id first, who could then download it. `owner` names another user's session.
        """
        if caller.admin and owner is None:
            return self.of(caller.name)
        try:
            return self.resolve(session_id, caller, owner=owner)
        except NotFoundError:
            return self.namespace(caller, owner=owner)

    def legacy_session_ids(self) -> list[str]:
        return self.of(LEGACY_OWNER).session_ids()

    def adopt_legacy(self, session_id: str, owner: str) -> bool:
        """Move an owner-less session into `owner`'s folder; False when `owner` already has that id."""
        source = self.of(LEGACY_OWNER).session_dir(session_id)
        target = self.of(owner).session_dir(session_id)
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(source, target)  # atomic; a concurrent mover finds the source gone
        except FileNotFoundError:
            return False
        return True
