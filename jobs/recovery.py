"""Recovery of running jobs whose runner died: a dead worker's, and a live worker's dead pool child's whose message is
gone. A live worker's recovery pass (jobs/runtime.py) calls `recover_running`.

A dead worker (its heartbeat expired: killed, out of memory, machine lost): any live worker re-queues its running jobs.

A dead pool child of a live worker: Celery hands the job's message back (task_reject_on_worker_lost) and a new child
runs the job again (JobStore.start: the record's `process` is dead). That message is gone, though, once a second
delivery of it was acknowledged: jobs/unacked.py's put-back of a message a child had taken and not yet started (or the
visibility timeout's), taken by a sibling or another worker, found the job running and was dropped, and its
acknowledgement removed the one unacked entry both deliveries shared (kombu keys it by delivery tag). The killed
child's reject then restored nothing: the job stayed `running` on a live worker until the watchdog failed it at
LONGEST_JOB_SECONDS (4 h). So the worker's own main process, on the pool children's host, re-queues a job recorded on
its own name whose recorded process is no longer the child that started the attempt (jobs/processes.py's
child_is_gone): only once it has seen that on two passes in a row (the same attempt: a redelivery that started it in
between is a new attempt), and only while the broker holds no message of the job (neither taken nor queued: Celery's
own redelivery is under way, it is not published beside it). A solo pool's jobs (run by the main process) are never
such a job.

A job is not run twice by this: the re-queue is one step on the record as read (JobStore.requeue with `job`: state
`running`, this worker, this attempt), so a redelivery that started the job meanwhile (attempts + 1) keeps it and
nothing is published; once re-queued, of the redelivery (had one slipped by) and the new message, the first start moves
it to running (START_LUA: on the record as read) and the other finds it running on a live child and drops it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .processes import child_is_gone
from .services import Services
from .store import HANDED_BACK_STAGE, REQUEUED_STAGE

log = logging.getLogger(__name__)

RECOVERY_LOCK_SECONDS = 30


def recover_running(svc: Services, by: str, *, max_attempts: int, publish: Callable[[dict], None],
                    suspects: dict[str, str], holds_message: Callable[[dict], bool]) -> list[str]:
    """Re-queue (or fail, past `max_attempts`) the running jobs whose worker is dead, and those of worker `by` (the
    caller: a live worker's main process) whose pool child died and whose message is gone. `suspects`: the caller's,
    kept from pass to pass (job -> attempt and process seen dead on the last pass: the grace). `publish(job)` sends the
    job's message; `holds_message(job)`: whether the broker has a message of the job. The ids of the jobs recovered."""
    recovered, seen_dead = [], {}
    for job_id in svc.jobs.running_ids():
        job = svc.jobs.get(job_id)
        if job is None or job["state"] != "running":
            svc.jobs.forget_running(job_id)
            continue
        worker = job.get("worker") or ""
        child = None
        if svc.workers.is_alive(worker):
            if worker != by or not child_is_gone(job.get("process"), started_at=job.get("started_at")):
                continue
            child = job["process"]
            seen_dead[job_id] = f"{job['attempts']}/{child}"
            # first sight: the next pass decides (a redelivery starts it within the moment); a message of it that the
            # broker holds is Celery's redelivery (or another) on its way: it starts the job, nothing is published
            if suspects.get(job_id) != seen_dead[job_id] or holds_message(job):
                continue
        if requeue_lost(svc, job, by=by, max_attempts=max_attempts, publish=publish, child=child):
            recovered.append(job_id)
    suspects.clear()
    suspects.update((job_id, mark) for job_id, mark in seen_dead.items() if job_id not in recovered)
    return recovered


def requeue_lost(svc: Services, job: dict, *, by: str, max_attempts: int, publish: Callable[[dict], None],
                 child: str | None = None) -> bool:
    """Re-queue, first in line, a running job whose runner died (its worker, or `child`: its pool child's handle), or
    fail it once `max_attempts` attempts were lost. False when another worker recovers it, or it started again."""
    job_id = job["job_id"]
    if not svc.jobs.claim_recovery(job_id, by, attempt=job["attempts"], seconds=RECOVERY_LOCK_SECONDS):
        return False  # another worker is recovering it
    # first: a waiter woken by the end finds none (but a batch's finished files, kept and listed)
    finished = svc.jobs.take_back_writes(job_id, job["attempts"])
    lost = job["attempts"] - job["handed_back"]  # a graceful stop's attempt is not lost (jobs/runtime.py's note)
    handed_back = job.get("handed_back_attempt") == str(job["attempts"])
    # the worker's name (host, pid) goes to the log, not to the user (a stranger read it in the error)
    runner = f"its worker {job.get('worker')}" if child is None else f"its pool child {child} of {job.get('worker')}"
    if lost >= max_attempts:
        log.warning("job %s failed: %s stopped, attempt %s", job_id, runner, job["attempts"])
        svc.jobs.fail(job_id, {"code": "worker_lost",
                               "message": f"the worker running this job stopped {lost} "
                                          f"time{'s' if lost != 1 else ''}; not retrying again"},
                      finished=finished)
        return True
    if not svc.jobs.requeue(job_id, stage=HANDED_BACK_STAGE if handed_back else REQUEUED_STAGE, job=job):
        return False  # started again meanwhile (a redelivery), or ended
    publish(job)  # first in line (priority 0): it had had its turn
    svc.jobs.published(job_id)
    if child is not None:  # the dead child's listing (the watchdog's handle) goes, unless a new start replaced it
        svc.workers.release(by, job_id, handle=child)
    log.warning("job %s re-queued: %s stopped", job_id, runner)
    return True
