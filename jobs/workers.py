"""Worker state in Redis: heartbeats, queues and current jobs of every worker; queue depths; model status."""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Any

import redis

from . import keys
from .keys import text
from .queue_storage import tidy
from .record import TERMINAL_STATES

HEARTBEAT_MISSES = 5  # beats a worker may miss before it counts as dead
# a stopped worker's note is dropped when a worker of its node name starts, or after this long (one that was
# removed for good must not keep /health degraded for ever)
STOPPED_NOTE_SECONDS = 7 * 24 * 3600

# KEYS: the worker's jobs (a set), its job->process hash, the job's record; ARGV: the job, the releasing process's
# handle, the worker. See WorkerRegistry.release. 1 when the record's process was listed.
RELEASE_LUA = """
local rec = redis.call('HMGET', KEYS[3], 'state', 'worker', 'process')
if rec[1] == 'running' and rec[2] == ARGV[3] and rec[3] and rec[3] ~= '' then
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], rec[3])
  return 1
end
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('SREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 0
"""


class WorkerRegistry:
    def __init__(self, client: redis.Redis, *, heartbeat_seconds: float = 2.0):
        self.r = client
        self.heartbeat_seconds = heartbeat_seconds
        # a worker that missed this many beats is dead (its record expires); at least 3 s for slow clocks
        self.ttl_seconds = max(3, int(heartbeat_seconds * HEARTBEAT_MISSES))
        self._release = self.r.register_script(RELEASE_LUA)

    def beat(self, name: str, **fields: Any) -> None:
        mapping: dict[str, str | float] = {"heartbeat": time.time(), **{k: json.dumps(v) for k, v in fields.items()}}
        pipe = self.r.pipeline()
        pipe.hset(keys.worker(name), mapping=mapping)  # type: ignore[arg-type]  # redis-py: invariant key type
        pipe.expire(keys.worker(name), self.ttl_seconds)
        pipe.sadd(keys.WORKERS, name)
        pipe.execute()

    def is_alive(self, name: str) -> bool:
        return bool(self.r.exists(keys.worker(name)))

    def set_current(self, name: str, job_id: str | None, *, pid: int | None = None,
                    process: str | None = None) -> list[str]:
        """Which job a worker runs now (a set: a prefork CPU worker runs several), and in which process.

        `process` names the process (and its thread) beyond its pid: a pid is reused once its process has died.
        One thread runs one job at a time, so another job still listed with the same `pid` and `process` is one
        whose runner ended without taking it off: it is taken off here and returned (its end is the caller's to record).
        Left on, the watchdog took that job for stuck and killed the process, by then running another job."""
        if not job_id:
            self.r.delete(keys.worker_jobs(name), keys.worker_job_pids(name))
            return []
        handle = None if pid is None else f"{pid}:{process}" if process else str(pid)
        stale: list[str] = []
        if process and handle:
            listed = self.r.hgetall(keys.worker_job_pids(name))
            stale = sorted(text(j) for j, h in listed.items() if text(h) == handle and text(j) != job_id)
        pipe = self.r.pipeline()
        if stale:
            pipe.srem(keys.worker_jobs(name), *stale)
            pipe.hdel(keys.worker_job_pids(name), *stale)
        pipe.sadd(keys.worker_jobs(name), job_id)
        if handle is not None:
            pipe.hset(keys.worker_job_pids(name), job_id, handle)
        pipe.execute()
        return stale

    def clear_current(self, name: str, job_id: str) -> None:
        pipe = self.r.pipeline()
        pipe.srem(keys.worker_jobs(name), job_id)
        pipe.hdel(keys.worker_job_pids(name), job_id)
        pipe.execute()

    def release(self, name: str, job_id: str, *, handle: str) -> None:
        """A delivery of the job that did not start it, listed by `handle` ("<pid>:<token>", set_current's), lets go:
        the job running on this worker lists the process its record says started it (a sibling pool child; this
        delivery's listing had replaced it, and clear_current had then taken the job off, the watchdog's handle
        gone with it), else this delivery's own entry is taken off, nobody else's. One script: atomic."""
        self._release(keys=[keys.worker_jobs(name), keys.worker_job_pids(name), keys.job(job_id)],
                      args=[job_id, handle, name])

    def job_pid(self, name: str, job_id: str) -> int | None:
        """The process that runs `job_id` for worker `name`, as it recorded when the job started."""
        handle = self.r.hget(keys.worker_job_pids(name), job_id)
        return int(text(handle).split(":", 1)[0]) if handle else None  # "<pid>:<process>" or "<pid>"

    def current(self, name: str) -> list[str]:
        """The jobs a worker runs now. A process killed mid-job (a prefork pool child) never takes its job off;
        the worker lives on, so a job that has since ended (or whose record is gone) is dropped here."""
        ids = sorted(text(i) for i in self.r.smembers(keys.worker_jobs(name)))
        if not ids:
            return []
        pipe = self.r.pipeline()
        for job_id in ids:
            pipe.hget(keys.job(job_id), "state")
        ended = [i for i, state in zip(ids, pipe.execute(), strict=True)
                 if state is None or text(state) in TERMINAL_STATES]
        if ended:
            def forget_ended() -> None:
                pipe = self.r.pipeline()
                pipe.srem(keys.worker_jobs(name), *ended)
                pipe.hdel(keys.worker_job_pids(name), *ended)
                pipe.execute()

            tidy(forget_ended, f"ended jobs of {name} listed as current")
        return [i for i in ids if i not in ended]

    def remove(self, name: str) -> None:
        self.r.delete(keys.worker(name), keys.worker_job_pids(name))
        self.r.srem(keys.WORKERS, name)

    def _forget(self, name: str) -> None:
        pipe = self.r.pipeline()
        pipe.srem(keys.WORKERS, name)
        pipe.delete(keys.worker_jobs(name), keys.worker_job_pids(name))
        pipe.execute()

    def note_stopped(self, node: str, *, queues: list[str], reason: str, exit_status: int) -> None:
        """A worker that stopped for good (exit status 78: its supervisor does not restart it) says why, for
        /health: the operator had seen only its queue without a worker."""
        self.r.hset(keys.STOPPED_WORKERS, node, json.dumps(
            {"queues": queues, "reason": reason, "exit_status": exit_status, "since": time.time()}))

    def clear_stopped(self, node: str) -> None:
        """A worker of that node name is up again: its stop is over."""
        self.r.hdel(keys.STOPPED_WORKERS, node)

    def stopped(self) -> list[dict]:
        """The workers that stopped for good and have not started since (the last STOPPED_NOTE_SECONDS)."""
        out: list[dict] = []
        old: list[dict] = []
        for node, raw in sorted(self.r.hgetall(keys.STOPPED_WORKERS).items()):
            note = {"name": text(node), **json.loads(text(raw))}
            (old if time.time() - float(note["since"]) > STOPPED_NOTE_SECONDS else out).append(note)
        if old:
            tidy(partial(self.r.hdel, keys.STOPPED_WORKERS, *[n["name"] for n in old]), "old stopped-worker notes")
        return out

    def all(self) -> list[dict]:
        names = sorted(text(n) for n in self.r.smembers(keys.WORKERS))
        pipe = self.r.pipeline()
        for n in names:
            pipe.hgetall(keys.worker(n))
        out, now = [], time.time()
        for n, raw in zip(names, pipe.execute(), strict=True):
            if not raw:  # its heartbeat expired: a stopped or dead worker
                tidy(partial(self._forget, n), f"the expired worker {n}")
                continue
            rec = {text(k): text(v) for k, v in raw.items()}
            beat = float(rec.pop("heartbeat"))
            info = {k: json.loads(v) for k, v in rec.items()}
            info.update(name=n, heartbeat_age_seconds=round(now - beat, 3),
                        alive=now - beat < self.ttl_seconds,
                        current_jobs=self.current(n))
            out.append(info)
        return out


def queue_depth(client: redis.Redis, queue: str) -> int:
    """Messages waiting in a kombu Redis queue (its priority sub-lists included)."""
    pipe = client.pipeline()
    for name in keys.queue_lists(queue):
        pipe.llen(name)
    return int(sum(pipe.execute()))


class ModelStatusBoard:
    """Each worker with a ModelManager (the GPU workers) publishes its status here, under its own name; the API
    reads it without asking a worker. One status for all had been the last publisher's: a second GPU worker
    starting (or one that had only transcribed) replaced the status of the worker holding the loaded LLM, and
    the status, the page and the metrics said no model was resident."""

    def __init__(self, client: redis.Redis):
        self.r = client

    def publish(self, status: dict, *, worker: str | None) -> None:
        entry = json.dumps({**status, "published_by": worker, "published_at": time.time()}, default=str)
        self.r.hset(keys.MODEL_STATUS, worker or "", entry)

    def resident_by_worker(self) -> dict[str, str | None]:
        """Each worker's resident LLM as it last published it (by identity; a gone worker's entry included)."""
        return {text(worker): json.loads(raw).get("current_model") for worker, raw in self.r.hgetall(
            keys.MODEL_STATUS).items()}

    def read(self, queue: str | None = None) -> dict | None:
        """The status of the live worker holding a model (the latest published where several do), else the latest
        a live worker published; None when none did. A worker whose heartbeat has expired is left out: the models
        it held went with it (a stranger's restarted GPU worker left "smollm2-135m loaded, 811 MB" in the status,
        the metrics and the page, and an unload then found nothing to unload). `queue`: only the workers consuming it
        (the API's GPU queue, whose workers its status lists as `gpu_workers`: another service's worker on the same
        Redis, holding a model, had made `current_model` name a model none of them held)."""
        published = [(text(worker), raw) for worker, raw in self.r.hgetall(keys.MODEL_STATUS).items()]
        pipe = self.r.pipeline(transaction=False)  # one round trip for every worker's heartbeat, not one each
        for name, _ in published:
            pipe.exists(keys.worker(name))
            pipe.hget(keys.worker(name), "queues")
        beats = pipe.execute() if published else []
        live = []
        for (name, raw), beating, queues in zip(published, beats[::2], beats[1::2], strict=True):
            if name and beating:
                if queue is None or queue in json.loads(queues or "[]"):
                    live.append(json.loads(raw))
            else:  # gone: its entry waits for a read that can write (a full queue disk refuses the removal)
                tidy(partial(self.r.hdel, keys.MODEL_STATUS, name), f"the model status of the gone worker {name}")
        if not live:
            return None
        status = max(live, key=lambda s: (bool(s.get("current_model")), float(s.get("published_at") or 0)))
        status.pop("published_at", None)
        return status
