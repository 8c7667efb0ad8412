"""Waiting for a job's record to change: woken by its events (any number of waiters, no polling)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import redis

from . import keys
from .record import TERMINAL_STATES


class JobWaits:
    """The job store's waits (jobs/store.py's JobStore): on its client `r`, reading records with its `get`."""

    r: redis.Redis

    def get(self, job_id: str) -> dict | None:
        raise NotImplementedError

    def wait_until(self, job_id: str, predicate: Callable[[dict], bool], timeout: float) -> dict | None:
        """Block until `predicate(record)` holds, re-reading the record on each of the job's events (no
        polling); returns the record, or the record as it is after `timeout` seconds."""
        with self.r.pubsub(ignore_subscribe_messages=True) as sub:
            sub.subscribe(keys.events(job_id))  # first subscribe, then read: no change can slip between
            deadline = time.monotonic() + timeout
            job = self.get(job_id)
            while job is not None and not predicate(job) and (left := deadline - time.monotonic()) > 0:
                if sub.get_message(timeout=left) is not None:
                    job = self.get(job_id)
            return job

    def wait_for_state(self, job_id: str, states: Iterable[str], timeout: float) -> dict | None:
        """`wait_until` the job is in one of `states`."""
        wanted = frozenset(states)
        return self.wait_until(job_id, lambda job: job["state"] in wanted, timeout)

    def wait(self, job_id: str, timeout: float) -> dict | None:
        """Block until the job finishes or `timeout` seconds pass (woken by its events: any number of
        waiters, no polling); returns the record."""
        if timeout <= 0:
            return self.get(job_id)
        return self.wait_for_state(job_id, TERMINAL_STATES, timeout)
