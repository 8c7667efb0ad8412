"""A worker whose DATA_DIR is not the service's: it puts the job it took back in the queue and stops, exit status 78.

Each job of a session carries the name of the API's data directory (`DATA_DIR/.data-dir-id`, storage.py), the same
on every machine that mounts the shared directory.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import billiard.process
from celery import signals
from celery.exceptions import Reject
from flask import current_app

from config import EX_CONFIG
from storage import DATA_DIR_ID_FILE

from . import redis_claim
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


STOPPED_REASON = "data_dir_mismatch"  # /health's stopped_workers[].reason
LEFT_CODE, LEFT_STATUS = "data_dir_left", 500  # a job of the data directory that held the database before
LEFT_MESSAGE = ("this job's data directory no longer uses this Redis database (another data directory took it over): "
                "not run")

# What a pool process sends the worker's main process to stop it for another data directory (Celery's own SIGTERM
# is a stop like any other, exit status 0: a supervisor's restarts had looped, each handing back what it took)
STOP_SIGNAL = signal.SIGUSR2
_stopping_for_data_dir = False  # in the worker's main process


def _stop_for_data_dir(signum: int, frame: object) -> None:
    global _stopping_for_data_dir
    _stopping_for_data_dir = True
    os.kill(os.getpid(), signal.SIGTERM)  # Celery's graceful stop: the messages it holds go back to the queue


@signals.worker_init.connect
def _listen_for_stop(sender=None, **kwargs) -> None:
    if threading.current_thread() is threading.main_thread():  # not a worker embedded in another program (tests)
        signal.signal(STOP_SIGNAL, _stop_for_data_dir)


@signals.worker_shutdown.connect
def _exit_as_misconfigured(sender=None, **kwargs) -> None:
    """`celery worker` exits with the worker's exitcode, set here after its stop set its own: 78 (EX_CONFIG), which the
    systemd unit does not restart (RestartPreventExitStatus), as for the other settings that cannot work."""
    if _stopping_for_data_dir and sender is not None:
        sender.exitcode = EX_CONFIG


def on_another_data_dir(svc: Services, job_id: str) -> bool:
    """Whether the job's session is in another data directory than this worker's: then the job's message goes back
    to the queue for another worker, the job still queued and its attempts untouched, and this worker stops, its log
    saying why, with exit status 78 (EX_CONFIG: its systemd unit does not start it again; another supervisor's
    restart hands back at most the jobs it had taken).

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
    if mine is not None and _left_before(svc, mine, job):
        # the database was taken over for this data directory (jobs/redis_claim.py) after the job was made: the job is
        # the stray one, left by the data directory that held it before; stopping this worker for it would stop every
        # worker in turn. (One made since, by a service that ignores the claim, stops the worker as below.)
        log.warning("job %s: its data directory (%s) no longer uses this Redis database, which serves this worker's "
                    "DATA_DIR %s now: failed data_dir_left, not run", job_id, theirs, svc.sessions.root)
        svc.jobs.fail(job_id, {"code": LEFT_CODE, "message": LEFT_MESSAGE}, status=LEFT_STATUS, from_states=("queued",))
        return False
    if threading.current_thread() is not threading.main_thread():  # a worker embedded in another program (tests)
        log.warning("job %s: its session is in another data directory than this worker's DATA_DIR %s", job_id,
                    svc.sessions.root)
        return False
    log.critical("job %s: its session is in another data directory than this worker's DATA_DIR %s (%s says %s, the "
                 "API's says %s): this worker does not share the service's data directory; the job goes back to the "
                 "queue and this worker stops, exit status %d (mount the shared DATA_DIR, see README 'Run it')", job_id,
                 svc.sessions.root, DATA_DIR_ID_FILE, mine, theirs, EX_CONFIG)
    try:  # for GET /health's stopped_workers: run.py's supervisor and systemd leave this worker down
        node = str(current_app.extensions.get("worker_identity", "")).split("#", 1)[0] or "unknown"
        svc.workers.note_stopped(node, queues=[job["queue"]] if job.get("queue") else [], reason=STOPPED_REASON,
                                 exit_status=EX_CONFIG)
    except Exception:  # noqa: BLE001 - Redis away: the log line above says it all the same
        log.warning("could not note the stop for /health", exc_info=True)
    # the worker's main process: this one in a solo pool, the parent of a prefork pool's child
    main = os.getpid() if billiard.process.current_process().name == "MainProcess" else os.getppid()
    os.kill(main, STOP_SIGNAL)
    return True


def _left_before(svc: Services, data_dir_id: str, job: dict) -> bool:
    """Redis's database was claimed for this data directory (jobs/redis_claim.py) after `job` was made."""
    held = redis_claim.read(svc.redis)
    return held is not None and held.data_dir_id == data_dir_id and (job.get("created_at") or 0.0) < held.since
