"""One owner's webhook deliveries go one at a time (WEBHOOK_SENDS_PER_OWNER, 1), and the next follows the one before
at once. Two of a user's jobs that ended together: a second sender thread claimed the second job's delivery while the
first was being sent, put it off for the owner's turn (OWNER_BUSY_SECONDS, 1 s) and nothing woke it when the first
ended, so it arrived ~1 s late. A real sender (threads, BLPOP) on a database of its own, real Redis, a real HTTP
receiver on 127.0.0.1."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from jobs import keys as job_keys
from jobs.webhooks import WebhookQueue, WebhookSender

DB = 14  # the webhook tests' own databases: 11, 12 (test_api_contract.py), 13 (test_webhook_sender.py), this one
PROMPT_SECONDS = 0.5  # the next delivery's arrival after the one before it was answered (it had been ~1 s)


@dataclass
class Arrival:
    webhook_id: str
    arrived: float  # time.monotonic() when the request came in
    answered: float = 0.0  # when its answer started (the sender cannot have had it before)


@dataclass
class TimedReceiver:
    """Records when each delivery arrives and is answered and how many were in at once; holds the first one until
    `release` is set (its owner's turn stays taken while the test sees the other put off)."""

    arrivals: list[Arrival] = field(default_factory=list)
    most_at_once: int = 0
    first_held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.changed:
                    arrival = Arrival(self.headers["webhook-id"], time.monotonic())
                    receiver.arrivals.append(arrival)
                    in_now = sum(not a.answered for a in receiver.arrivals)
                    receiver.most_at_once = max(receiver.most_at_once, in_now)
                    first = len(receiver.arrivals) == 1
                if first:
                    receiver.first_held.set()
                    receiver.release.wait(timeout=60)
                with receiver.changed:
                    arrival.answered = time.monotonic()  # before the answer is written: the sender has it after
                    receiver.changed.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def wait_answered(self, count: int, timeout: float = 30.0) -> list[Arrival]:
        with self.changed:
            done = self.changed.wait_for(lambda: sum(bool(a.answered) for a in self.arrivals) >= count, timeout)
            assert done, f"{len(self.arrivals)} deliveries arrived, {count} expected"
            return list(self.arrivals)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def one_owners_jobs_ending_together(redis_url: str, settings: dict, *, jobs: int = 2,
                                    threads: int = 3) -> tuple[list[float], int]:
    """`jobs` jobs of one owner end together; the first delivery is held at the receiver until each of the others
    was put off for the owner's turn by another sender thread. Returns the seconds from each delivery's answer to
    the next one's arrival, and the most deliveries the receiver had in at once."""
    url = redis_url.rsplit("/", 1)[0] + f"/{DB}"
    own = redis.Redis.from_url(url)
    put_off = threading.Semaphore(0)

    class Watched(WebhookQueue):
        """The real queue; tells the test when a delivery was put off for its owner's turn (no sleep to guess)."""

        def defer(self, delivery_id: str, seconds: float) -> float:
            due = super().defer(delivery_id, seconds)
            put_off.release()
            return due

    queue, receiver = Watched(own, settings), TimedReceiver()
    sender = WebhookSender(queue, blocking_client=redis.Redis.from_url(url), threads=threads, per_owner=1)
    sender.start()
    try:
        ids = []
        for n in range(jobs):  # they all end now
            job_id = f"erin-{n}-{uuid.uuid4().hex}"
            ids.append(queue.enqueue({"job_id": job_id, "owner": "erin", "webhook": receiver.url,
                                      "webhook_events": ["completed"]}, "completed", {"job_id": job_id}))
        assert receiver.first_held.wait(timeout=30), "no delivery reached the receiver"
        for _ in range(jobs - 1):
            assert put_off.acquire(timeout=30), "a delivery was never claimed while the first was being sent"
        receiver.release.set()
        arrivals = receiver.wait_answered(jobs)
        assert sorted(a.webhook_id for a in arrivals) == sorted(ids)  # each once
        return [b.arrived - a.answered for a, b in itertools.pairwise(arrivals)], receiver.most_at_once
    finally:
        sender.stop()
        receiver.close()
        own.flushdb()


@pytest.mark.parametrize("jobs", [2, 3])
def test_the_next_delivery_of_an_owner_follows_the_one_before_at_once(redis_url, settings, jobs):
    """Three jobs: the end of the second delivery wakes the third, put off while the first was being sent."""
    gaps, most_at_once = one_owners_jobs_ending_together(redis_url, settings, jobs=jobs)
    assert most_at_once == 1 and min(gaps) > 0, "two of one owner's deliveries were sent at once"
    assert max(gaps) < PROMPT_SECONDS, f"a delivery came {max(gaps):.2f} s after the one before it was answered"


def test_a_put_off_delivery_claimed_since_is_not_woken(redis_url, settings):
    """Woken after another worker claimed it, a delivery would be due again within its lease: sent twice at once."""
    own = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + f"/{DB}")
    queue = WebhookQueue(own, settings)
    try:
        job = {"job_id": f"frank-{uuid.uuid4().hex}", "owner": "frank", "webhook": "http://127.0.0.1:9/hook",
               "webhook_events": ["completed"]}
        delivery = queue.enqueue(job, "completed", {})
        assert delivery and queue.claim() == delivery
        until = queue.defer(delivery, 1.0)
        assert queue.claim() is None  # put off
        assert queue.wake(delivery, until) and queue.claim() == delivery  # its owner's turn: due now
        leased = own.zscore(job_keys.WEBHOOKS_DUE, delivery)
        assert not queue.wake(delivery, until)  # claimed since: its lease stands
        assert own.zscore(job_keys.WEBHOOKS_DUE, delivery) == leased and queue.claim() is None
        own.zrem(job_keys.WEBHOOKS_DUE, delivery)
        assert not queue.wake(delivery, until)  # ended: not scheduled again
        assert own.zscore(job_keys.WEBHOOKS_DUE, delivery) is None
    finally:
        own.flushdb()
