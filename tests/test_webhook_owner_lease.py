"""A worker process killed while sending one of an owner's webhook deliveries never gives the owner's turn back
(WEBHOOK_SENDS_PER_OWNER counts turns over every worker process, in Redis): the turn's lease ends it, and the owner's
next delivery goes then, not before (the process may be hung rather than dead, still sending) and not much after.
The killed sender is a real process (SIGKILL); the live one a real sender; real Redis, a real HTTP receiver."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import redis

from jobs.webhooks import WebhookQueue, WebhookSender
from tests.test_webhook_owner_turns import TimedReceiver

DB = 15  # the webhook tests' own databases: 11, 12 (test_api_contract.py), 13, 14 (test_webhook_owner_turns.py), this
LEASE_SECONDS = 2.0  # the turn's lease here (30 s in a worker): short, so the test waits it out
ROOT = Path(__file__).resolve().parent.parent

# A worker process's sender, one thread, with the short lease; it waits for its SIGKILL.
SENDER = """
import json, sys, threading
import redis
from jobs.webhooks import WebhookQueue, WebhookSender
url, settings = sys.argv[1], json.loads(sys.argv[2])
WebhookSender.TURN_LEASE_SECONDS = float(sys.argv[3])
sender = WebhookSender(WebhookQueue(redis.Redis.from_url(url), settings), blocking_client=redis.Redis.from_url(url),
                       threads=1, per_owner=1)
sender.start()
threading.Event().wait()
"""


class ShortLease(WebhookSender):
    TURN_LEASE_SECONDS = LEASE_SECONDS


def enqueue(queue: WebhookQueue, url: str) -> str | None:
    job_id = f"grace-{uuid.uuid4().hex}"
    return queue.enqueue({"job_id": job_id, "owner": "grace", "webhook": url, "webhook_events": ["completed"]},
                         "completed", {"job_id": job_id})


def test_a_worker_killed_mid_delivery_holds_its_owners_turn_until_the_lease_ends(redis_url, settings):
    url = redis_url.rsplit("/", 1)[0] + f"/{DB}"
    own = redis.Redis.from_url(url)
    queue, second_in = WebhookQueue(own, settings), threading.Semaphore(0)
    receiver = TimedReceiver(others=second_in)  # holds the first delivery: the killed worker is at it
    webhook_settings = {k: v for k, v in settings.items() if k.startswith("WEBHOOK") or k == "DATA_DIR"}
    worker = subprocess.Popen([sys.executable, "-c", SENDER, url, json.dumps(webhook_settings), str(LEASE_SECONDS)],
                              cwd=ROOT)
    live = ShortLease(WebhookQueue(redis.Redis.from_url(url), settings), blocking_client=redis.Redis.from_url(url),
                      threads=1, per_owner=1)
    try:
        first = enqueue(queue, receiver.url)
        assert receiver.first_held.wait(timeout=30), "the worker's delivery never reached the receiver"
        worker.kill()  # a process death mid-delivery: its turn is never given back
        assert worker.wait(timeout=30) != 0
        live.start()
        second = enqueue(queue, receiver.url)
        assert second_in.acquire(timeout=30), "the owner's next delivery never came"
        arrivals = receiver.arrivals
        assert [a.webhook_id for a in arrivals] == [first, second]
        gap = arrivals[1].arrived - arrivals[0].arrived
        assert gap >= LEASE_SECONDS - 0.5, f"sent {gap:.2f} s after the first, within the killed worker's turn"
        # put off for the turn, it is claimed again every OWNER_BUSY_SECONDS: the lease's end, then at most that
        assert gap < LEASE_SECONDS + ShortLease.OWNER_BUSY_SECONDS + 2.0, f"the owner waited {gap:.2f} s"
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
        live.stop()
        receiver.close()
        own.flushdb()
