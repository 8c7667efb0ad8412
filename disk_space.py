"""Free space in the data directory: what /health reports, and the up-front refusal of an upload or a job.

Below MIN_FREE_DISK_MB the service is `degraded`: uploads that would take the free space under the
threshold, and new sessions, are refused with 507 before a byte is written, so the space left goes to jobs' results, the
upload spool and the embedded valkey's append-only file. A job whose estimated results would take the free space
under it, beside what the jobs accepted and not yet finished will write (jobs/disk_reservations.py), is refused the
same way before it is queued (it had been accepted, then failed 507 once its results met the full disk). Reads go on
as usual. A write that still finds the disk full fails with the same 507 `insufficient_storage` (worker/errors.py
maps the OSError).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from worker.errors import DISK_FULL_MESSAGE, InsufficientStorageError

MB = 1024 * 1024


@dataclass(frozen=True)
class DiskSpace:
    free_bytes: int  # what an unprivileged process may still write (root's reserved blocks not counted)
    total_bytes: int
    min_free_bytes: int  # MIN_FREE_DISK_MB

    @property
    def low(self) -> bool:
        return self.free_bytes < self.min_free_bytes

    def to_dict(self) -> dict:
        """For /health: figures only, never the path (the public view shows it too)."""
        return {"ok": not self.low, "free_bytes": self.free_bytes, "total_bytes": self.total_bytes,
                "min_free_bytes": self.min_free_bytes}


def disk_space(data_dir: str | Path, *, min_free_mb: float) -> DiskSpace:
    st = os.statvfs(data_dir)
    return DiskSpace(free_bytes=st.f_bavail * st.f_frsize, total_bytes=st.f_blocks * st.f_frsize,
                     min_free_bytes=int(min_free_mb * MB))


def require_room(data_dir: str | Path, *, min_free_mb: float, incoming_bytes: int = 0) -> None:
    """Raise 507 `insufficient_storage` when storing `incoming_bytes` would leave less than the threshold. Where the
    disk is above it and only this upload would take it under, the message says so (it had said the server takes
    no uploads, while a batch's small file was taken beside its large ones)."""
    space = disk_space(data_dir, min_free_mb=min_free_mb)
    if space.free_bytes - max(incoming_bytes, 0) < space.min_free_bytes:
        if space.free_bytes <= incoming_bytes:
            raise InsufficientStorageError(DISK_FULL_MESSAGE)
        if not space.low:  # this upload would not fit, a smaller one may: the server is not refusing them all
            raise too_little(space, "this upload", incoming_bytes,
                             "nothing was stored; a smaller file may fit, or retry once space has been freed")
        raise InsufficientStorageError("the server is low on disk space and takes no new sessions or uploads "
                                       "until space has been freed; retry later")


def require_room_for_job(data_dir: str | Path, *, min_free_mb: float, output_bytes: int, held_jobs: int = 0,
                         held_bytes: int = 0) -> None:
    """Raise 507 `insufficient_storage` when a job's estimated results (`output_bytes`, jobs/output_estimate.py)
    would leave less than the threshold: refused before it is queued, nothing written. `held_jobs`, `held_bytes`:
    the jobs accepted on this disk and not yet finished, and what they will still write (jobs/disk_reservations.py):
    counted as taken, since each of two stems jobs asked back to back had fitted the space alone, and the second
    failed 507 in the worker once the first had filled it."""
    space = disk_space(data_dir, min_free_mb=min_free_mb)
    if space.low:  # under the reserve already: any job is refused, whatever its size (a 1 MB one had been told
        # its results were too large for the disk)
        raise InsufficientStorageError(
            f"the server is low on disk space (under the {round(space.min_free_bytes / MB)} MB it keeps free) and "
            f"queues no jobs until space has been freed: nothing was queued; retry later")
    if space.free_bytes - max(output_bytes, 0) < space.min_free_bytes:
        raise too_little(space, "this job's results", output_bytes,
                         "nothing was queued; retry once space has been freed")
    if space.free_bytes - max(held_bytes, 0) - max(output_bytes, 0) < space.min_free_bytes:
        raise too_little(space, "this job's results", output_bytes,
                         f"about {_mb(held_bytes)} MB of the free space is held for the results of {held_jobs} "
                         "job(s) already queued or running; nothing was queued; retry once they have finished")


def too_little(space: DiskSpace, what: str, size_bytes: int, outcome: str) -> InsufficientStorageError:
    """The 507 of one upload or job too large for the space above the reserve (the server takes smaller ones)."""
    return InsufficientStorageError(
        f"the server's disk has too little space for {what} (about {_mb(size_bytes)} MB, keeping "
        f"{round(space.min_free_bytes / MB)} MB free): {outcome}")


def _mb(size_bytes: int) -> int:
    return max(1, round(size_bytes / MB))
