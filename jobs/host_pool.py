"""The CPU pool's jobs running now on each host, for the GPU worker's torch threads (TORCH_NUM_THREADS=auto).

A model generating on the CPU shares the host's cores with the CPU worker's pool processes. Its threads spin while
they wait for each other, so a thread that loses its core to a pool job stalls every token (SmolLM2 beside a busy
pool: 0.48 tokens/s with 2 threads, 8.23 with 1, bench/llm_threads_bench.py); but a fixed share (the cores minus
CPU_CONCURRENCY) left a 16-core host with an idle 15-process pool generating on one thread. So the CPU workers say
which of their jobs run, per host, and the generation takes the cores the running ones leave (worker/llm/threads.py).

One sorted set per host (`ma:host-cpu-jobs:<hostname>`): a job id, scored by the end of its lease (Unix time). The
runner adds the job as its work starts and removes it as the work ends (before its outcome is recorded); the CPU
worker's heartbeat extends the leases of the jobs it lists as running, so a pool child killed mid-job counts no
longer than one lease past its job's end. Reading is one ZCOUNT of the leases not yet ended: the writers and the
reader are on the same host, so on the same clock.
Only this host's pool counts: another host's jobs run on other cores.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import redis

from . import keys
from .queue_storage import tidy


def this_host() -> str:
    """The host's name, as the CPU worker's node name `cpu@%h` has it."""
    return socket.gethostname()


class HostPool:
    def __init__(self, client: redis.Redis, *, host: str | None = None, lease_seconds: float = 10.0):
        self.r = client
        self.host = host or this_host()
        self.lease_seconds = float(lease_seconds)
        self.key = keys.host_cpu_jobs(self.host)

    def started(self, job_id: str) -> None:
        pipe = self.r.pipeline()
        pipe.zadd(self.key, {job_id: time.time() + self.lease_seconds})
        pipe.expire(self.key, max(1, int(self.lease_seconds * 2)))
        pipe.execute()

    def ended(self, job_id: str) -> None:
        self.r.zrem(self.key, job_id)

    @contextmanager
    def counting(self, job_id: str, counts: bool = True) -> Iterator[None]:
        """The job counts while the block runs (`counts`: it is a CPU pool job). Off as its work ends, before its
        outcome is recorded: a reader that sees the job ended sees it no longer counted. A Redis that takes no
        write leaves the count as it is (the lease ends it)."""
        if counts:
            tidy(lambda: self.started(job_id), f"counting job {job_id} on this host's CPU pool")
        try:
            yield
        finally:
            if counts:
                tidy(lambda: self.ended(job_id), f"job {job_id} no longer counted on this host's CPU pool")

    def renew(self, job_ids: Iterable[str]) -> None:
        """Extend the leases of `job_ids` still listed (an ended job is not put back) and drop the lapsed ones: the
        heartbeat of a CPU worker, with the jobs it runs now."""
        now = time.time()
        ids = list(job_ids)
        pipe = self.r.pipeline()
        if ids:
            pipe.zadd(self.key, dict.fromkeys(ids, now + self.lease_seconds), xx=True)
            pipe.expire(self.key, max(1, int(self.lease_seconds * 2)))
        pipe.zremrangebyscore(self.key, "-inf", now)
        pipe.execute()

    def running(self) -> int:
        """The CPU pool's jobs running on this host now: one ZCOUNT."""
        return int(self.r.zcount(self.key, f"({time.time()}", "+inf"))
