"""Hidden copies of earlier results that no job will put back or remove, removed when a worker starts.

A job that replaces or removes an earlier run's result keeps it first as a hidden hard link
(worker/files.py `.<name>.<unix seconds>-<token>.earlier`), and drops it when the job has ended, right after its
runner forgets the job's noted writes (jobs/runner.py: in that order, so that a kill before the forget still finds
every copy to restore). A kill between the two left copies nobody knew of: hidden files in the session's results,
counted against the user's storage until the session was deleted. A worker starting (the supervisor's restart of
the one killed, or any other) removes those: copies that no running job noted, made longer ago than the longest
a job may run (a job whose note was lost while Redis was away still owns its copies until then).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from worker.files import EARLIER_SUFFIX, earlier_made_at

from .store import JobStore

log = logging.getLogger(__name__)


def owned_copies(jobs: JobStore) -> set[Path]:
    """The copies the running jobs noted: their runner, or recovery, puts them back or removes them."""
    if jobs.writes is None:
        return set()
    owned: set[Path] = set()
    for job_id in jobs.running_ids():
        job = jobs.get(job_id)
        if job is not None:
            owned |= jobs.writes.copies(job_id, int(job.get("attempts") or 0))
    return owned


def remove_left_copies(data_dir: str | Path, jobs: JobStore, *, older_than_seconds: float) -> int:
    """Remove the hidden copies under `data_dir` that no running job owns, made `older_than_seconds` ago or more;
    how many were removed."""
    owned, removed = owned_copies(jobs), 0
    before = time.time() - older_than_seconds
    for path in Path(data_dir).rglob(f".*{EARLIER_SUFFIX}"):
        made = earlier_made_at(path)
        if made is None or made > before or path.resolve() in owned:
            continue
        try:
            os.unlink(path)
            removed += 1
        except FileNotFoundError:
            pass  # its job (or another worker's sweep) removed it first
        except OSError:
            log.warning("could not remove %s, a hidden copy a stopped job left", path, exc_info=True)
    if removed:
        log.info("removed %d hidden cop%s of earlier results that stopped jobs left", removed,
                 "y" if removed == 1 else "ies")
    return removed
