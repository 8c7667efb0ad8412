"""The files a running job has written, known to Redis, so a job ended by someone other than its runner leaves none.

The runner takes back what a job wrote when the job fails or is canceled (worker/files.py `recording_writes`):
no JSON without its picture, no stem without its siblings. A job whose process is killed (by the watchdog of
jobs/overdue.py, the kernel's OOM killer, a crash) never reaches that code: its finished files stayed in the
session, listed beside the results of succeeded jobs, and the temporary file it was writing stayed hidden beside
them (a killed separation: hundreds of MB of `.part` audio nobody would delete). So every path the writers
touch, the temporary name before a byte is written and the final one once it is in place, is added to a Redis
set per attempt of the job (a redelivered message may start the next attempt while the dead one is being
recovered); whoever ends an attempt instead of its runner (worker lost, stuck and stopped, canceled with its
worker gone, re-queued for another attempt) removes them before recording the end, so that a client woken by
the end finds none of them. The runner drops the set when it records the end itself.

A file the job replaced or removed, an earlier run's result, was kept as a hidden hard link first (worker/files.py
`_keep_earlier`), noted as "<copy>\v<file>": taking the attempt back puts it back, unless its set is one of the
finished sets kept, so a re-run killed midway leaves the earlier run's set whole (it had left it halved).

Paths are kept relative to DATA_DIR, so a worker on another machine that mounts the same data elsewhere
removes the right files, and nothing outside DATA_DIR is ever removed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import redis

from worker.files import result_set

from . import keys

log = logging.getLogger(__name__)
INODE_MARK = "\t"  # "<final name>\t<inode>": the name a temporary file will get, and that file's inode
EARLIER_MARK = "\v"  # "<hidden copy>\v<file>": an earlier run's file the job replaced or removed, and where it was


class JobWrites:
    def __init__(self, client: redis.Redis, data_dir: str | Path, *, ttl_seconds: int):
        self.r = client
        self.root = Path(data_dir).resolve()
        self.ttl = int(ttl_seconds)

    def note(self, job_id: str, attempt: int, path: Path, becomes: Path | None = None, *,
             restores: Path | None = None) -> None:
        """`path` is being written (or was put in place) by the job; `becomes`: the final name the temporary file
        `path` will be renamed to, noted with the temporary file's inode (the rename keeps it): a kill right after
        the rename leaves a file that is known, and an earlier run's file of that name, never replaced, is left
        alone. `restores`: `path` is a hidden copy of that earlier file. Outside DATA_DIR: not the job's result."""
        if restores is not None:
            copy, earlier = self._relative(path), self._relative(restores)
            entries = [f"{copy}{EARLIER_MARK}{earlier}" if copy and earlier else None]
        else:
            entries = [self._relative(path)]
        if becomes is not None:
            try:
                entries.append(f"{self._relative(becomes)}{INODE_MARK}{os.stat(path).st_ino}")
            except (OSError, TypeError):
                pass
        members = [e for e in entries if e is not None]
        if not members:
            return
        try:
            pipe = self.r.pipeline()
            pipe.sadd(keys.job_writes(job_id, attempt), *members)
            pipe.expire(keys.job_writes(job_id, attempt), self.ttl)
            pipe.execute()
        except redis.RedisError:  # Redis away for a moment: the write goes on (only a kill now would leave it)
            log.warning("could not note %s as written by job %s", members[0], job_id)

    def _relative(self, path: Path) -> str | None:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return None

    def copies(self, job_id: str, attempt: int) -> set[Path]:
        """The hidden copies of earlier files the attempt noted (what taking it back would put back)."""
        noted = (keys.text(raw) for raw in self.r.smembers(keys.job_writes(job_id, attempt)))
        return {(self.root / entry.partition(EARLIER_MARK)[0]).resolve() for entry in noted if EARLIER_MARK in entry}

    def written_bytes(self, job_id: str, attempt: int) -> int:
        """The bytes on disk of the files the attempt noted (the temporary file it is writing, the results it put in
        place; an earlier run's file of a final name, another inode, is not its own): what a running job's reservation
        of the disk need not count again (jobs/disk_reservations.py)."""
        sizes: dict[Path, int] = {}
        for entry in (keys.text(raw) for raw in self.r.smembers(keys.job_writes(job_id, attempt))):
            if EARLIER_MARK in entry:
                continue
            name, _, inode = entry.partition(INODE_MARK)
            path = self.root / name
            try:
                st = os.stat(path)
            except OSError:  # renamed since (its final name is noted too), or taken back
                continue
            if not inode or st.st_ino == int(inode):
                sizes[path] = st.st_size  # a name noted twice (as written and as a rename's target) counts once
        return sum(sizes.values())

    def forget(self, job_id: str, attempt: int) -> None:
        """The runner recorded the job's end: its files are its result (or were taken back by the runner)."""
        self.r.delete(keys.job_writes(job_id, attempt))

    def take_back(self, job_id: str, attempt: int, *, keep: frozenset[str] = frozenset()) -> int:
        """Remove every file the attempt noted (those still there) but those named in `keep` (the whole sets of
        a batch's finished files), then put back the earlier files it replaced or removed but those of a kept set;
        returns how many were removed."""
        removed = 0
        noted = [keys.text(raw) for raw in self.r.smembers(keys.job_writes(job_id, attempt))]
        for entry in noted:
            if EARLIER_MARK in entry:
                continue
            name, _, inode = entry.partition(INODE_MARK)
            path = (self.root / name).resolve()
            if not path.is_relative_to(self.root) or path == self.root or path.name in keep:
                continue
            try:
                if inode and os.stat(path).st_ino != int(inode):
                    continue  # not the file the job was writing: an earlier run's, which it never replaced
                os.unlink(path)
                removed += 1
            except FileNotFoundError:
                pass
            except OSError:
                log.warning("could not remove %s, written by job %s before it was stopped", path, job_id,
                            exc_info=True)
        kept_sets = {result_set(name) for name in keep}
        for entry in noted:
            copy, mark, name = entry.partition(EARLIER_MARK)
            copy_path, path = (self.root / copy).resolve(), (self.root / name).resolve()
            if not mark or not all(p.is_relative_to(self.root) and p != self.root for p in (copy_path, path)):
                continue
            try:
                if result_set(path.name) in kept_sets:
                    os.unlink(copy_path)
                else:
                    os.replace(copy_path, path)
            except FileNotFoundError:
                pass  # the job ended the copy's life itself, or it was never made
            except OSError:
                log.warning("could not put back %s, replaced by job %s before it was stopped", path, job_id,
                            exc_info=True)
        self.r.delete(keys.job_writes(job_id, attempt))
        if removed:
            log.info("removed %d file(s) job %s had written before it ended without its runner", removed, job_id)
        return removed
