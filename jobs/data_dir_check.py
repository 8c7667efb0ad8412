"""A worker whose DATA_DIR is not the service's: it puts the job it took back in the queue and stops.

Each job of a session carries the name of the API's data directory (`DATA_DIR/.data-dir-id`, storage.py), the same
on every machine that mounts the shared directory.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import billiard.process
from celery.exceptions import Reject

from storage import DATA_DIR_ID_FILE

from .services import Services

log = logging.getLogger(__name__)


class HandedOn(Reject):
    """The job's message goes back to the queue for a worker on the service's data directory (requeued)."""


class _QuietHandingOn(logging.Filter):
    """Celery logs a rejected message at WARNING with the Reject's traceback: after the CRITICAL that says why, a
    stranger read that as a crash. The CRITICAL is the one line about it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], HandedOn))


logging.getLogger("celery.app.trace").addFilter(_QuietHandingOn())


def on_another_data_dir(svc: Services, job_id: str) -> bool:
    """Whether the job's session is in another data directory than this worker's: then the job's message goes back
    to the queue for another worker, the job still queued and its attempts untouched, and this worker stops, its log
    saying why (its supervisor starts it again: each start hands back at most the jobs it had taken).

    A worker started with a `DATA_DIR` that is not the shared one (a folder of its own on another machine) had taken
    its share of the jobs and failed each `session_not_found`, "session 'x' does not exist", of a session the user
    had just uploaded to."""
    job = svc.jobs.get(job_id)
    theirs = (job or {}).get("data_dir")
    if not theirs or job is None or job["state"] != "queued":
        return False
    mine = svc.sessions.identity()
    if mine == theirs:
        return False
    if threading.current_thread() is not threading.main_thread():  # a worker embedded in another program (tests)
        log.warning("job %s: its session is in another data directory than this worker's DATA_DIR %s", job_id,
                    svc.sessions.root)
        return False
    log.critical("job %s: its session is in another data directory than this worker's DATA_DIR %s (%s says %s, the "
                 "API's says %s): this worker does not share the service's data directory; the job goes back to the "
                 "queue and this worker stops (mount the shared DATA_DIR, see README 'Run it')", job_id,
                 svc.sessions.root, DATA_DIR_ID_FILE, mine, theirs)
    # the worker's main process: this one in a solo pool, the parent of a prefork pool's child. Its SIGTERM is a
    # graceful stop: the messages it holds go back to the queue, as this one does.
    main = os.getpid() if billiard.process.current_process().name == "MainProcess" else os.getppid()
    os.kill(main, signal.SIGTERM)
    return True
