"""Messages that workers took and never started, put back on their queue by a live worker's recovery pass.

A worker takes a job's message (kombu keeps it in its `unacked` hash until the job has ended: acks_late), then starts
the job. While the job queue refuses writes (a full disk) or is away, that start waits; a worker stopped or killed
meanwhile cannot put the message back (the write is refused too), and kombu restores it only after the visibility
timeout (LONGEST_JOB_SECONDS + 600 s: 4 h 10 min), the job `queued` all that time. Each recovery pass
(jobs/runtime.py) puts back the message of a job still `queued` that a worker took more than a grace ago: a live
worker starts a job within milliseconds of taking it. Should the worker holding it still be waiting to start it, the
job runs once all the same: only one delivery's start moves it to running (JobStore.start: one step on the record as
read), and the other finds it ended, or running on a live worker, or on a live sibling pool child of its own worker
(the record's `process` names the one that started it: jobs/processes.py), and leaves it, and its worker's listing
of it, to that one. Only a job whose starting process has died is run again (a killed pool child's).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from . import keys
from .store import JobStore

log = logging.getLogger(__name__)


def restore_unstarted(channel: Any, jobs: JobStore, *, older_than: float) -> list[str]:
    """Put back on their queues (first in line) the taken messages of jobs still queued, taken over `older_than`
    seconds ago; returns those jobs' ids. `channel`: a kombu Redis channel of the workers' broker. One read when
    no message is that old."""
    restored: list[str] = []
    client = channel.client
    for tag, taken_at in client.zrangebyscore(channel.unacked_index_key, "-inf", time.time() - older_than,
                                              withscores=True):
        job_id = _job_of(client.hget(channel.unacked_key, tag))
        job = jobs.get(job_id) if job_id else None
        if job is None or job["state"] != "queued":
            continue  # running or ended (its end acknowledges it), or no job's: the visibility timeout's
        if _moved_since(jobs, str(job_id), taken_at):
            # an earlier attempt's message (its worker died; recovery queued the job again with a new message): put
            # back too, it had started the job from `running` beside the new one
            continue
        channel.qos.restore_by_tag(tag.decode() if isinstance(tag, bytes) else tag, client=client, leftmost=True)
        log.warning("job %s: its message, taken by a worker that did not start it, is back on its queue", job_id)
        restored.append(str(job_id))
    return restored


def _moved_since(jobs: JobStore, job_id: str, taken_at: float) -> bool:
    """Whether the job's state changed after its message was taken (its event log's last entry is later)."""
    last = jobs.r.xrevrange(keys.event_log(job_id), count=1)
    if not last:
        return False
    entry = str(last[0][0].decode() if isinstance(last[0][0], bytes) else last[0][0])  # "<ms>-<n>"
    return int(entry.split("-", 1)[0]) / 1000 > taken_at


def _job_of(payload: bytes | None) -> str | None:
    """The job of a taken message: its task id, which is the job's id (jobs/submit.py's publish)."""
    if not payload:
        return None
    try:
        return str(json.loads(payload)[0]["headers"]["id"])
    except (ValueError, LookupError, TypeError):
        return None


# KEYS[1] = kombu's unacked hash, KEYS[2..] = the lists of the job's queue; ARGV[1] = the job's id (32 hex digits, in
# its message's headers). 1 when a message of the job is taken or waiting. Read in Redis, 500 entries at a time: a long
# queue is never copied out (run only for a job whose pool child died, jobs/recovery.py).
HOLDS_LUA = """
for _, m in ipairs(redis.call('HVALS', KEYS[1])) do
  if string.find(m, ARGV[1], 1, true) then return 1 end
end
for i = 2, #KEYS do
  local n = redis.call('LLEN', KEYS[i])
  for from = 0, n - 1, 500 do
    for _, m in ipairs(redis.call('LRANGE', KEYS[i], from, from + 499)) do
      if string.find(m, ARGV[1], 1, true) then return 1 end
    end
  end
end
return 0
"""


def holds_message(channel: Any, job_id: str, queue: str) -> bool:
    """Whether the broker has a message of the job: taken by a worker (kombu's unacked hash) or waiting on its queue
    (Celery's redelivery of a killed pool child's job, task_reject_on_worker_lost, is back there)."""
    client = channel.client
    return bool(client.eval(HOLDS_LUA, 1 + len(keys.queue_lists(queue)), channel.unacked_key,
                            *keys.queue_lists(queue), job_id))
