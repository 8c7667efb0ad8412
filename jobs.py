"""Job records, progress, cancel flags and worker state, all in Redis.

Used by the API (create, read, cancel) and by the workers (start, progress,
finish). Records live in Redis rather than in Celery's result backend so that
`GET /jobs/<id>` is one HGETALL, survives API restarts, and carries the fields
clients read (state, progress, stage, result, error).

State machine (every transition is one atomic Lua call):
    queued -> running -> succeeded | failed | canceled
    queued -> canceled                       (cancel before a worker took it)
    running -> running                       (redelivery after a worker died)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import redis

from worker.errors import JobCanceled

PREFIX = "ma:"
RUNNING_KEY = f"{PREFIX}running"
DONE_SIGNAL_SECONDS = 120  # how long a finished job's wake-up signal waits for a reader
TERMINAL_STATES = frozenset({"succeeded", "failed", "canceled"})
STATES = frozenset({"queued", "running"}) | TERMINAL_STATES
_JSON_FIELDS = ("params", "result", "error", "files")

# KEYS[1] = job hash; ARGV[1] = allowed from-states (comma list), ARGV[2] = new state,
# ARGV[3..] = field/value pairs to set. Returns the previous state, or false.
_TRANSITION_LUA = """
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return false end
local ok = false
for s in string.gmatch(ARGV[1], '[^,]+') do if s == cur then ok = true end end
if not ok then return false end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return cur
"""


def iso(ts: float | str | None) -> str | None:
    if ts in (None, ""):
        return None
    return datetime.fromtimestamp(float(ts), tz=UTC).isoformat(timespec="milliseconds")


def new_job_id() -> str:
    return uuid.uuid4().hex


class JobStore:
    def __init__(self, client: redis.Redis, *, ttl_seconds: int = 30 * 24 * 3600):
        self.r = client
        self.ttl = int(ttl_seconds)
        self._transition = self.r.register_script(_TRANSITION_LUA)

    # -- keys ---------------------------------------------------------------
    @staticmethod
    def key(job_id: str) -> str:
        return f"{PREFIX}job:{job_id}"

    @staticmethod
    def session_key(session_id: str) -> str:
        return f"{PREFIX}session-jobs:{session_id}"

    @staticmethod
    def cancel_key(job_id: str) -> str:
        return f"{PREFIX}cancel:{job_id}"

    # -- create / read --------------------------------------------------------
    def create(self, *, job_type: str, session_id: str | None, queue: str, task: str,
               params: dict | None = None, job_id: str | None = None) -> dict:
        job_id = job_id or new_job_id()
        now = time.time()
        record = {
            "job_id": job_id,
            "session_id": session_id or "",
            "type": job_type,
            "queue": queue,
            "task": task,
            "state": "queued",
            "progress": 0.0,
            "stage": "queued",
            "created_at": now,
            "attempts": 0,
            "params": json.dumps(params or {}),
        }
        pipe = self.r.pipeline()
        pipe.hset(self.key(job_id), mapping=record)
        pipe.expire(self.key(job_id), self.ttl)
        pipe.zadd(f"{PREFIX}jobs", {job_id: now})
        if session_id:
            pipe.zadd(self.session_key(session_id), {job_id: now})
        pipe.execute()
        return self.get(job_id)

    def get(self, job_id: str) -> dict | None:
        raw = self.r.hgetall(self.key(job_id))
        return _decode(raw) if raw else None

    def list(self, *, session_id: str | None = None, limit: int = 100) -> list[dict]:
        index = self.session_key(session_id) if session_id else f"{PREFIX}jobs"
        ids = [i.decode() for i in self.r.zrevrange(index, 0, max(0, limit - 1))]
        pipe = self.r.pipeline()
        for job_id in ids:
            pipe.hgetall(self.key(job_id))
        out = []
        stale = []
        for job_id, raw in zip(ids, pipe.execute(), strict=True):
            if raw:
                out.append(_decode(raw))
            else:
                stale.append(job_id)
        if stale:  # expired records: drop them from the index too
            self.r.zrem(index, *stale)
        return out

    def active_jobs(self, session_id: str) -> list[dict]:
        return [j for j in self.list(session_id=session_id, limit=1000)
                if j["state"] not in TERMINAL_STATES]

    def forget_session(self, session_id: str) -> None:
        self.r.delete(self.session_key(session_id))

    # -- transitions ----------------------------------------------------------
    def _move(self, job_id: str, from_states: Iterable[str], to_state: str, **fields: Any) -> str | None:
        args = [",".join(from_states), to_state]
        for k, v in fields.items():
            args += [k, json.dumps(v) if k in _JSON_FIELDS else ("" if v is None else v)]
        prev = self._transition(keys=[self.key(job_id)], args=args)
        return prev.decode() if prev else None

    def start(self, job_id: str, *, worker: str, max_attempts: int,
              is_alive: Callable[[str], bool] = lambda name: False) -> str:
        """Mark running. Returns 'run', or why not: 'gone', 'done', 'canceled', 'exhausted', 'elsewhere'.

        'elsewhere': a duplicate delivery of a job that a live worker is running now.
        """
        job = self.get(job_id)
        if job is None:
            return "gone"
        if job["state"] in TERMINAL_STATES:
            return "done"
        if job["state"] == "running" and job.get("worker") not in (None, "", worker) and is_alive(job["worker"]):
            return "elsewhere"
        if self.r.exists(self.cancel_key(job_id)):
            self._move(job_id, ("queued", "running"), "canceled", stage="canceled",
                       finished_at=time.time())
            return "canceled"
        attempts = self.r.hincrby(self.key(job_id), "attempts", 1)
        if attempts > max_attempts:
            self.fail(job_id, {"code": "worker_lost",
                               "message": f"the worker running this job stopped {attempts - 1} times; "
                                          "not retrying again"})
            return "exhausted"
        prev = self._move(job_id, ("queued", "running"), "running", stage="starting",
                          started_at=time.time(), worker=worker)
        if prev:
            self.r.sadd(RUNNING_KEY, job_id)
        return "run" if prev else "done"

    def requeue(self, job_id: str) -> bool:
        """running -> queued, for a job whose worker died (the caller re-publishes it)."""
        self.r.srem(RUNNING_KEY, job_id)
        return bool(self._move(job_id, ("running",), "queued", stage="requeued after its worker stopped"))

    def running_ids(self) -> list[str]:
        return [i.decode() for i in self.r.smembers(RUNNING_KEY)]

    def progress(self, job_id: str, fraction: float, stage: str) -> None:
        self.r.hset(self.key(job_id), mapping={
            "progress": round(min(max(float(fraction), 0.0), 1.0), 4), "stage": stage})

    def succeed(self, job_id: str, result: Any, files: list[str] | None = None) -> None:
        self._move(job_id, ("running",), "succeeded", progress=1.0, stage="done",
                   finished_at=time.time(), result=result, files=files or [])
        self._finished(job_id)

    def _finished(self, job_id: str) -> None:
        pipe = self.r.pipeline()
        pipe.delete(self.cancel_key(job_id))
        pipe.srem(RUNNING_KEY, job_id)
        # wakes anyone blocked in wait() (the synchronous model routes), without polling
        pipe.lpush(self.done_key(job_id), 1)
        pipe.expire(self.done_key(job_id), DONE_SIGNAL_SECONDS)
        pipe.execute()

    @staticmethod
    def done_key(job_id: str) -> str:
        return f"{PREFIX}done:{job_id}"

    def wait(self, job_id: str, timeout: float, *, blocking_client: redis.Redis) -> dict | None:
        """Block until the job finishes or `timeout` seconds pass; returns the record."""
        job = self.get(job_id)
        if job is None or job["state"] in TERMINAL_STATES or timeout <= 0:
            return job
        blocking_client.blpop([self.done_key(job_id)], timeout=timeout)
        return self.get(job_id)

    def fail(self, job_id: str, error: dict) -> None:
        self._move(job_id, ("queued", "running"), "failed", stage="failed",
                   finished_at=time.time(), error=error)
        self._finished(job_id)

    def mark_canceled(self, job_id: str) -> None:
        self._move(job_id, ("queued", "running"), "canceled", stage="canceled",
                   finished_at=time.time())
        self._finished(job_id)

    def request_cancel(self, job_id: str) -> str | None:
        """Cancel: a queued job is canceled now; a running one at its next checkpoint.

        Returns the state the job was in, or None if it was already finished.
        """
        self.r.set(self.cancel_key(job_id), "1", ex=self.ttl)
        prev = self._move(job_id, ("queued",), "canceled", stage="canceled", finished_at=time.time())
        if prev:
            self._finished(job_id)
            return prev
        job = self.get(job_id)
        if job and job["state"] == "running":
            return "running"
        self.r.delete(self.cancel_key(job_id))
        return None

    def cancel_requested(self, job_id: str) -> bool:
        return bool(self.r.exists(self.cancel_key(job_id)))

    def reporter(self, job_id: str, *, min_interval: float = 0.05) -> Callable[[float, str], None]:
        """A progress callback for pipelines: records progress, raises JobCanceled when asked.

        Writes are throttled to one per `min_interval` seconds unless the stage
        changes; the cancel flag is checked on every call (one EXISTS).
        """
        last = {"t": 0.0, "stage": None}

        def report(fraction: float, stage: str) -> None:
            now = time.monotonic()
            if stage != last["stage"] or now - last["t"] >= min_interval or fraction >= 1.0:
                self.progress(job_id, fraction, stage)
                last.update(t=now, stage=stage)
            if self.cancel_requested(job_id):
                raise JobCanceled("the job was canceled")

        return report


def _decode(raw: dict) -> dict:
    rec = {k.decode(): v.decode() for k, v in raw.items()}
    for k in _JSON_FIELDS:
        if rec.get(k):
            rec[k] = json.loads(rec[k])
        else:
            rec.pop(k, None)
    rec["progress"] = float(rec.get("progress") or 0.0)
    rec["attempts"] = int(rec.get("attempts") or 0)
    for k in ("created_at", "started_at", "finished_at"):
        rec[k] = float(rec[k]) if rec.get(k) else None
    return rec


def public_view(job: dict) -> dict:
    """The job as clients see it (GET /jobs/<id>)."""
    out = {
        "job_id": job["job_id"],
        "session_id": job["session_id"] or None,
        "type": job["type"],
        "state": job["state"],
        "progress": job["progress"],
        "stage": job["stage"],
        "created_at": iso(job.get("created_at")),
        "started_at": iso(job.get("started_at")),
        "finished_at": iso(job.get("finished_at")),
        "queue": job.get("queue"),
        "attempts": job.get("attempts", 0),
    }
    if job["state"] == "succeeded":
        out["result"] = job.get("result")
        out["files"] = job.get("files", [])
    if job["state"] == "failed":
        out["error"] = job.get("error")
    return out


# ---------------------------------------------------------------------------
# Worker state: each worker publishes pid, queues, heartbeat, current job.
# ---------------------------------------------------------------------------

class WorkerRegistry:
    def __init__(self, client: redis.Redis, *, heartbeat_seconds: float = 2.0):
        self.r = client
        self.heartbeat_seconds = heartbeat_seconds

    @staticmethod
    def key(name: str) -> str:
        return f"{PREFIX}worker:{name}"

    def beat(self, name: str, **fields: Any) -> None:
        mapping = {"heartbeat": time.time(), **{k: json.dumps(v) for k, v in fields.items()}}
        pipe = self.r.pipeline()
        pipe.hset(self.key(name), mapping=mapping)
        pipe.expire(self.key(name), max(3, int(self.heartbeat_seconds * 5)))
        pipe.sadd(f"{PREFIX}workers", name)
        pipe.execute()

    def is_alive(self, name: str) -> bool:
        return bool(self.r.exists(self.key(name)))

    def set_current(self, name: str, job_id: str | None) -> None:
        """Which job a worker runs now (a set: a prefork CPU worker runs several)."""
        if job_id:
            self.r.sadd(f"{PREFIX}worker-jobs:{name}", job_id)
        else:
            self.r.delete(f"{PREFIX}worker-jobs:{name}")

    def clear_current(self, name: str, job_id: str) -> None:
        self.r.srem(f"{PREFIX}worker-jobs:{name}", job_id)

    def current(self, name: str) -> list[str]:
        return sorted(i.decode() for i in self.r.smembers(f"{PREFIX}worker-jobs:{name}"))

    def remove(self, name: str) -> None:
        self.r.delete(self.key(name))
        self.r.srem(f"{PREFIX}workers", name)

    def all(self) -> list[dict]:
        names = sorted(n.decode() for n in self.r.smembers(f"{PREFIX}workers"))
        pipe = self.r.pipeline()
        for n in names:
            pipe.hgetall(self.key(n))
        out, now = [], time.time()
        for n, raw in zip(names, pipe.execute(), strict=True):
            if not raw:
                self.r.srem(f"{PREFIX}workers", n)
                continue
            rec = {k.decode(): v.decode() for k, v in raw.items()}
            beat = float(rec.pop("heartbeat"))
            info = {k: json.loads(v) for k, v in rec.items()}
            info.update(name=n, heartbeat_age_seconds=round(now - beat, 3),
                        alive=now - beat < max(3, self.heartbeat_seconds * 5),
                        current_jobs=self.current(n))
            out.append(info)
        return out


def queue_depth(client: redis.Redis, queue: str) -> int:
    """Messages waiting in a kombu Redis queue (its priority sub-lists included)."""
    sep = "\x06\x16"
    keys = [queue] + [f"{queue}{sep}{p}" for p in (1, 2, 3, 4, 5, 6, 7, 8, 9)]
    pipe = client.pipeline()
    for k in keys:
        pipe.llen(k)
    return int(sum(pipe.execute()))
