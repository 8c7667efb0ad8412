"""File names and atomic writes, shared by every pipeline and by the session store.

A result file either appears complete or not at all: writers go to a temporary
name in the same folder and are renamed over the target (atomic on one filesystem);
on any error, a full disk included, the temporary file is removed.

Within `recording_writes()` every file these writers put in place is listed, so the job
runner can take back what a job wrote when it ends canceled or failed (no PNG without its JSON);
its `on_write` callback also hears each temporary name before it is written (jobs/job_writes.py:
the files of a job whose process is killed, taken back by whoever ends it).

A file such a job replaces (an earlier run's result of the same name) or removes (`remove_stale_siblings`) is
first kept as a hidden hard link beside it (`.<name>.<token>.earlier`), so taking the job's writes back puts the
earlier run's set back whole: a re-run that failed or was killed midway had left the earlier set halved (its
JSON replaced and then taken back, its picture still there). Once the job has ended, what was not put back goes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import tempfile
import time
import unicodedata
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from config import IMAGE_FILE_TYPES
from worker.errors import InvalidRequestError

log = logging.getLogger(__name__)
_NAME_BAD_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_LENGTH = 120  # characters, extension included: an upload's name
# A result's name is its upload's stem with a prefix and an extension
# (`analysis_phi-4-multimodal_transcribe_<stem>.json`, 37 + 5 more): cut at 120 as uploads were, two uploads whose
# long names differed only past the cut wrote the same result files, the second's stems replacing the first's (a
# security trial). 180 holds every such name of a 120-character upload whole; the hidden copies and temporary
# files beside it (up to 18 more characters) stay under 255.
MAX_RESULT_NAME_LENGTH = 180
EARLIER_SUFFIX = ".earlier"  # a replaced or removed file's hidden copy, until its job has ended
# (path, the final name a temporary file will be renamed to, the file a hidden copy `path` would restore)
OnWrite = Callable[[Path, "Path | None", "Path | None"], None]


class Written(list[Path]):
    """The files a job put in place, in order; `earlier`: (how many files were written before it, the file it
    replaced or removed, that file's hidden copy)."""

    def __init__(self) -> None:
        super().__init__()
        self.earlier: list[tuple[int, Path, Path]] = []


_written: ContextVar[tuple[Written, OnWrite | None] | None] = ContextVar("written_files", default=None)


# Latin letters that Unicode does not decompose into a base letter and a mark, so that NFKD + ASCII would drop
# them: a stranger's "Ünïcødé" had become "Unicde".
_LATIN_LETTERS = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss",
                                "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D",
                                "ı": "i", "ħ": "h", "Ħ": "H", "ŋ": "ng", "Ŋ": "Ng"})


def last_part(filename: str | None) -> str:
    """A declared file name without its directories (either slash), as it is stored: `../../etc/passwd` is
    `passwd`."""
    return (filename or "").replace("\\", "/").rsplit("/", 1)[-1]


def extension_of(name: str) -> str:
    """The lower-cased extension of a declared name's last part ('' for none): a folder's `my.takes/take 1` has
    none, as the `take_1` it is stored as (it had read `takes/take 1`, and the upload was refused 415)."""
    base = last_part(name)
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def safe_name(filename: str, *, max_length: int = MAX_RESULT_NAME_LENGTH) -> str:
    """A file name reduced to [A-Za-z0-9._-], no leading dots, no directories, at most `max_length` characters
    (an upload's: MAX_NAME_LENGTH; a result's, made from an upload's stem: MAX_RESULT_NAME_LENGTH).

    >>> safe_name("../../etc/My Song (live).MP3")
    'My_Song_live_.MP3'
    >>> safe_name("Ünïcødé Straße.flac")
    'Unicode_Strasse.flac'

    A name with nothing left of its stem (all of it non-Latin, or only an extension) keeps its extension and
    gets a stem from a digest of the original name, so two such names stay two files; a name without an
    extension (the upload's format is then read from its content) gets the same digest stem, where it had been
    refused "empty after sanitising" while the same name with `.wav` was taken:

    >>> safe_name("日本語の曲.wav")
    'file-f1c16446.wav'
    >>> safe_name("日本")
    'file-cf2abf0c'
    """
    base = last_part(filename)
    ascii_name = _NAME_BAD_CHARS.sub("_", unicodedata.normalize("NFKD", base.translate(_LATIN_LETTERS))
                                  .encode("ascii", "ignore").decode())
    name = ascii_name.strip("._")
    stem, dot, ext = ascii_name.rpartition(".")
    digest = f"file-{hashlib.sha256(base.encode()).hexdigest()[:8]}"
    if dot and not stem.strip("._") and ext.strip("._"):
        name = f"{digest}.{ext.strip('._')}"
    elif not name and base.strip(" ."):  # something was named, and none of it is Latin: no extension to keep
        name = digest
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: max_length - len(ext) - 1] + dot + ext) if dot and len(ext) < max_length // 2 \
            else name[:max_length]
    if not name:
        raise InvalidRequestError("file name is empty after sanitising", code="invalid_file_name")
    return name


def remove_stale_siblings(results_dir: Path, names: set[str]) -> None:
    """Files of an earlier run of the same analysis of the same upload that the set `names` does not hold
    (`pitch_song.mid` beside a key-only `pitch_song.json`): a run, or a cached copy of one, replaces its set.
    A sibling shares a name's stem up to its one extension (`pitch_song.` + `mid`, never `pitch_song.b.json`)."""
    prefixes = {result_set(name) + "." for name in names if "." in name}
    for path in results_dir.iterdir():
        rest = next((path.name[len(p):] for p in prefixes if path.name.startswith(p)), None)
        if rest and "." not in rest and path.name not in names and path.is_file():
            if not _keep_earlier(path, move=True):
                path.unlink(missing_ok=True)


def remove_result(path: Path) -> None:
    """Remove an earlier run's result file `path` (if there) as `remove_stale_siblings` does: kept to be put back
    when the job removing it is taken back."""
    if not _keep_earlier(path, move=True):
        path.unlink(missing_ok=True)


def is_image_name(name: str) -> bool:
    """An upload named as an image (uploads are checked to hold what their extension says)."""
    return extension_of(name) in IMAGE_FILE_TYPES


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        _tell(Path(tmp), becomes=path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _keep_earlier(path)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _record(path)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, obj: Any) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """For writers that want a file name (soundfile, matplotlib, mido...).

    Yields a temporary path with the same suffix in the same folder; on a clean
    exit it is renamed to `path`, on an error it is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".part" + path.suffix)
    os.close(fd)
    try:
        _tell(Path(tmp), becomes=path)
        yield Path(tmp)
        _keep_earlier(path)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _record(path)


@contextmanager
def recording_writes(on_write: OnWrite | None = None) -> Iterator[Written]:
    """Lists the files the atomic writers put in place within (in this thread or task context); `on_write`
    hears each temporary name before it is written, with the final name it will get, each final name once
    the file is in place, and each hidden copy of a file replaced or removed, with that file, before it is made."""
    written = Written()
    token = _written.set((written, on_write))
    try:
        yield written
    finally:
        _written.reset(token)


def writes_so_far() -> list[Path]:
    """The files recording_writes has listed so far in this context (a copy; [] when nothing records): a batch
    marks where each file's writes begin, to take back the set of a file that failed."""
    recording = _written.get()
    return list(recording[0]) if recording is not None else []


def remove_files(paths: list[Path]) -> None:
    for path in paths:
        _unlink_quietly(path)


def result_set(name: str) -> str:
    """The set a result file belongs to, as `remove_stale_siblings` reads it: its name up to its one extension."""
    return name.rsplit(".", 1)[0]


def take_back(written: Written, *, since: int = 0, keep: Collection[str] = ()) -> None:
    """Remove the files written since the `since`-th, but those named in `keep` (the whole sets of a batch's
    finished files), and put back the earlier run's files they replaced or removed, but those of a kept set."""
    remove_files([path for path in written[since:] if path.name not in keep])
    kept_sets = {result_set(name) for name in keep}
    for entry in [e for e in written.earlier if e[0] >= since]:
        _, path, copy = entry
        if result_set(path.name) not in kept_sets:
            try:
                os.replace(copy, path)
            except OSError:  # (a full disk cannot refuse a rename; a vanished copy has nothing to put back)
                log.warning("could not put back %s, replaced by a run that was taken back", path, exc_info=True)
            written.earlier.remove(entry)


def take_back_since(mark: int, *, keep: Collection[str] = ()) -> None:
    """`take_back` in the current recording: a batch's failed file, whose writes began at `mark`."""
    recording = _written.get()
    if recording is not None:
        take_back(recording[0], since=mark, keep=keep)


def earlier_made_at(path: Path) -> float | None:
    """When a hidden copy (`.<name>.<unix seconds>-<token>.earlier`) was made; None for another file, and 0 for a
    copy named before the time was part of the name."""
    if not (path.name.startswith(".") and path.name.endswith(EARLIER_SUFFIX)):
        return None
    made, _, token = path.name[: -len(EARLIER_SUFFIX)].rpartition(".")[2].partition("-")
    return float(made) if token and made.isdigit() else 0.0


def drop_earlier(written: Written) -> None:
    """The job has ended: the hidden copies of the files it replaced or removed, and did not put back, go."""
    for _, _, copy in written.earlier:
        _unlink_quietly(copy)
    written.earlier.clear()


def _keep_earlier(path: Path, *, move: bool = False) -> bool:
    """Before a recorded job replaces (or, `move`, removes) `path`, an earlier run's file, it is kept as a hidden
    hard link (moved there: renamed) that taking the job back restores. A file this job wrote itself, a second
    replacement, a filesystem without hard links: nothing kept. True if the file was moved."""
    recording = _written.get()
    if recording is None or path in recording[0] or any(p == path for _, p, _ in recording[0].earlier):
        return False
    # the time it was made is in its name (a hard link keeps the earlier file's mtime; a ctime cannot be set): what
    # jobs/left_copies.py reads to tell a copy a kill left behind from one a running job may still put back
    copy = path.with_name(f".{path.name}.{int(time.time())}-{secrets.token_hex(4)}{EARLIER_SUFFIX}")
    try:
        if not path.is_file():
            return False
        _tell(copy, restores=path)  # told first: a kill right after leaves a copy its job knows of
        os.replace(path, copy) if move else os.link(path, copy)
    except OSError:
        log.info("the earlier %s not kept while a job replaces it", path.name, exc_info=True)
        return False
    recording[0].earlier.append((len(recording[0]), path, copy))
    return move


def _record(path: Path) -> None:
    recording = _written.get()
    if recording is not None:
        recording[0].append(Path(path))
        _tell(path)


def _tell(path: Path, *, becomes: Path | None = None, restores: Path | None = None) -> None:
    """A temporary name before it is written (`becomes`: the name it will be renamed to), a final one once in
    place: a process killed between the rename and this second call leaves a file its job was told of; a hidden
    copy before it is made (`restores`: the file it keeps)."""
    recording = _written.get()
    if recording is not None and recording[1] is not None:
        recording[1](Path(path), becomes, restores)


def _unlink_quietly(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
