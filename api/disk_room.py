"""A job's check against the data disk (MIN_FREE_DISK_MB) and its record, counting the jobs accepted before it.

Each job that writes results was checked against the free space as it was asked for: two stems jobs asked back to
back were both accepted when each alone fitted, and the second failed 507 in the worker once its stems met the disk
the first had filled. The check now counts what the jobs accepted on the same data directory and not yet finished
will still write (jobs/disk_reservations.py), and a job's check and its record (which makes its reservation) are one
turn under a lock of the data directory: two requests at the same moment cannot both take the last room.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app

from api.quota import taking_turns
from config import data_dir
from disk_space import require_room_for_job
from jobs import keys
from jobs.services import services

# Every job on a session takes this turn, so it is short: a check and a record take milliseconds (a cached answer's
# copy of its files longer), and a lock left behind (a process killed holding it, or a release refused by a full
# queue disk) holds the next job up to this long
LOCK_SECONDS = 10


@contextmanager
def room_for_job(output_bytes: int) -> Iterator[None]:
    """Around a job's check and its record: 507 `insufficient_storage` when its estimated results (`output_bytes`),
    beside those the unfinished jobs of this data directory will write, would take the free space under
    MIN_FREE_DISK_MB."""
    config, svc = current_app.config, services()
    where, reserve = data_dir(config), float(config["MIN_FREE_DISK_MB"])
    identity = svc.sessions.identity()
    if identity is None:  # the data directory has no id (too full to write one): no job holds room on it
        require_room_for_job(where, min_free_mb=reserve, output_bytes=output_bytes)
        yield
        return
    with taking_turns(keys.disk_reserve_lock(identity), busy="other jobs are being queued; try again",
                      seconds=LOCK_SECONDS):
        # a reservation outlives its job by no more than the job may run (its leak never blocks the disk for good)
        limit = float(config["LONGEST_JOB_SECONDS"]) + float(config["JOB_STOP_GRACE_SECONDS"])
        held = svc.jobs.disk.held(identity, limit_seconds=limit, writes=svc.jobs.writes)
        require_room_for_job(where, min_free_mb=reserve, output_bytes=output_bytes, held_jobs=held.jobs,
                             held_bytes=held.bytes)
        yield
