"""The threads of a worker process that send the due webhook deliveries (jobs/webhook_queue.py), one owner's at
most WEBHOOK_SENDS_PER_OWNER at a time (jobs/webhook_owner_limit.py). The rest of webhooks: jobs/webhooks.py."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import redis

from . import keys, webhook_post
from .redis_away_log import RedisAwayLog
from .webhook_owner_limit import TURN_LEASE_SECONDS, OwnerLimit
from .webhook_queue import WebhookQueue

log = logging.getLogger(__name__)


class WebhookSender:
    """Daemon threads of a worker process (`threads` of them): send due deliveries until stopped.

    Between deliveries each blocks on the wake list (BLPOP) until the next delivery is due, at most
    IDLE_SECONDS: a new delivery wakes a sender at once, a retry's backoff is waited out, nothing polls.
    One owner's deliveries take at most `per_owner` turns at a time over every process on the Redis (a claimed delivery
    over that is deferred by OWNER_BUSY_SECONDS, no attempt counted; jobs/webhook_owner_limit.py): a stranger's three
    receivers that each took the 10-second timeout held the one sender thread there was, and another user's webhook
    waited 7-11 s behind them. The end of a delivery wakes the first of its owner's deliveries put off by any process,
    so the next one follows at once; its timer is left for a process that stopped before waking it, and a turn's lease
    (TURN_LEASE_SECONDS) for one killed while sending.
    `stop` wakes the threads through a list of this sender's own, which each also waits on: they had sat out the
    rest of their BLPOP (up to IDLE_SECONDS), and every worker's stop (Ctrl-C, systemctl stop) took 5 s more.
    """

    IDLE_SECONDS = 5.0
    OWNER_BUSY_SECONDS = 1.0
    TURN_LEASE_SECONDS = TURN_LEASE_SECONDS  # a turn of an owner's held at most this long (30 s; why: there)

    def __init__(self, queue: WebhookQueue, *, blocking_client: redis.Redis, threads: int = 4,
                 per_owner: int = 1):
        self.queue = queue
        self.blocking = blocking_client
        self.limit = OwnerLimit(queue.r, per_owner, lease_seconds=self.TURN_LEASE_SECONDS)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"ma-webhooks-{i}", daemon=True)
                         for i in range(max(1, threads))]
        self._stop_key = f"{keys.WEBHOOKS_WAKE}:stop:{uuid.uuid4().hex}"  # this sender's own: `stop` pushes here
        self._away = RedisAwayLog(log, "webhook sender")  # one line per outage for all the threads

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        try:  # one wake-up per thread: a thread waiting in BLPOP returns now, one sending finds the event set
            # (through the queue's client, which has a read timeout: a hung Redis must not hold the stop for ever)
            wake = self.queue.r.pipeline()
            wake.rpush(self._stop_key, *[1] * len(self._threads))
            wake.expire(self._stop_key, 60)
            wake.execute()
        except redis.RedisError:  # Redis away: the threads end once their wait runs out, as before
            log.debug("could not wake the webhook senders", exc_info=True)
        deadline = time.monotonic() + webhook_post.DELIVERY_TIMEOUT_SECONDS + 5
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        try:
            self.queue.r.delete(self._stop_key)
        except redis.RedisError:
            log.debug("could not remove the webhook senders' stop list", exc_info=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delivery = self.queue.claim()
                self._away.answered()
                if delivery is not None:
                    self._send(delivery)
                    continue
                wait = self.queue.seconds_to_next(at_most=self.IDLE_SECONDS)
                if wait > 0:
                    self.blocking.blpop([keys.WEBHOOKS_WAKE, self._stop_key], timeout=max(wait, 0.01))
            except Exception as e:  # Redis away: keep trying; a claimed delivery's lease makes it due again
                self._away.failed(e)
                self._stop.wait(self.IDLE_SECONDS)

    def _send(self, delivery: str) -> None:
        owner = self.queue.owner_of(delivery)
        if owner is None:
            self.queue.send(delivery)  # gone: send() drops it from the schedule
            return
        turn = self.limit.take(owner, delivery, put_off_seconds=self.OWNER_BUSY_SECONDS)
        if turn is None:
            self._put_off(delivery)
            return
        try:
            self.queue.send(delivery)
        finally:
            self.limit.release(owner, turn)

    def _put_off(self, delivery: str) -> None:
        """`delivery` waits for its owner's turn: the end of a turn that holds their deliveries wakes it, in whichever
        process (tests watch this)."""
        log.debug("webhook %s put off for its owner's turn", delivery)
