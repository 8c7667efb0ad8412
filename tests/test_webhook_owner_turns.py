"""One owner's webhook deliveries go one at a time (WEBHOOK_SENDS_PER_OWNER, 1), and the next follows the one before
at once. Two of a user's jobs that ended together: a second sender thread claimed the second job's delivery while the
first was being sent, put it off for the owner's turn (OWNER_BUSY_SECONDS, 1 s) and nothing woke it when the first
ended, so it arrived ~1 s late. Over worker processes too: each had counted the owner's turns of its own, so two
workers sent one owner's deliveries two at a time. Real senders (threads, BLPOP; two of them with clients of their own
standing in for two worker processes) on a database of its own, real Redis, a real HTTP receiver on 127.0.0.1."""

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
from jobs.webhooks import OwnerLimit, WebhookQueue, WebhookSender

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
    `release` is set (its owner's turn stays taken while the test sees the other put off). Each later arrival is
    also counted on `others` (when given): one sent while the first is held has not waited its turn."""

    others: threading.Semaphore | None = None
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
                if not first and receiver.others is not None:
                    receiver.others.release()
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


def one_owners_jobs_ending_together(redis_url: str, settings: dict, *, jobs: int = 2, threads: int = 3,
                                    senders: int = 1) -> tuple[list[float], int]:
    """`jobs` jobs of one owner end together; the first delivery is held at the receiver until each of the others
    was put off for the owner's turn by another sender thread (or sent meanwhile, which the caller sees). `senders`
    senders of `threads` threads, each with Redis clients of its own, as worker processes have. Returns the seconds
    from each delivery's answer to the next one's arrival, and the most deliveries the receiver had in at once."""
    url = redis_url.rsplit("/", 1)[0] + f"/{DB}"
    own = redis.Redis.from_url(url)
    seen = threading.Semaphore(0)  # a delivery put off for its owner's turn, or one arriving after the first

    class Watched(WebhookSender):
        """A real sender; tells the test when a delivery was put off for its owner's turn (no sleep to guess)."""

        def _put_off(self, delivery: str) -> None:
            super()._put_off(delivery)
            seen.release()

    receiver = TimedReceiver(others=seen)
    queue = WebhookQueue(own, settings)
    started = [Watched(WebhookQueue(redis.Redis.from_url(url), settings), blocking_client=redis.Redis.from_url(url),
                       threads=threads, per_owner=1) for _ in range(senders)]
    for sender in started:
        sender.start()
    try:
        ids = []
        for n in range(jobs):  # they all end now
            job_id = f"erin-{n}-{uuid.uuid4().hex}"
            ids.append(queue.enqueue({"job_id": job_id, "owner": "erin", "webhook": receiver.url,
                                      "webhook_events": ["completed"]}, "completed", {"job_id": job_id}))
        assert receiver.first_held.wait(timeout=30), "no delivery reached the receiver"
        for _ in range(jobs - 1):
            assert seen.acquire(timeout=30), "a delivery was never claimed while the first was being sent"
        receiver.release.set()
        arrivals = receiver.wait_answered(jobs)
        assert sorted(a.webhook_id for a in arrivals) == sorted(ids)  # each once
        return [b.arrived - a.answered for a, b in itertools.pairwise(arrivals)], receiver.most_at_once
    finally:
        for sender in started:
            sender.stop()
        receiver.close()
        own.flushdb()


@pytest.mark.parametrize("jobs", [2, 3])
def test_the_next_delivery_of_an_owner_follows_the_one_before_at_once(redis_url, settings, jobs):
    """Three jobs: the end of the second delivery wakes the third, put off while the first was being sent."""
    gaps, most_at_once = one_owners_jobs_ending_together(redis_url, settings, jobs=jobs)
    assert most_at_once == 1 and min(gaps) > 0, "two of one owner's deliveries were sent at once"
    assert max(gaps) < PROMPT_SECONDS, f"a delivery came {max(gaps):.2f} s after the one before it was answered"


def test_two_worker_processes_send_one_owners_deliveries_one_at_a_time(redis_url, settings):
    """Two senders of one thread each: the second claims the owner's other delivery while the first one's is held
    at the receiver. It had sent it at once (each process counted the owner's turns of its own); it is put off, and
    the first one's end, in the other process, wakes it."""
    gaps, most_at_once = one_owners_jobs_ending_together(redis_url, settings, jobs=2, threads=1, senders=2)
    assert most_at_once == 1 and min(gaps) > 0, "two worker processes sent one owner's deliveries at once"
    assert max(gaps) < PROMPT_SECONDS, f"a delivery came {max(gaps):.2f} s after the one before it was answered"


def test_a_put_off_delivery_claimed_since_is_not_woken(redis_url, settings):
    """Woken after another worker claimed it, a delivery would be due again within its lease: sent twice at once."""
    own = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + f"/{DB}")
    queue, limit = WebhookQueue(own, settings), OwnerLimit(own, 1)
    try:
        job = {"job_id": f"frank-{uuid.uuid4().hex}", "owner": "frank", "webhook": "http://127.0.0.1:9/hook",
               "webhook_events": ["completed"]}
        delivery = queue.enqueue(job, "completed", {})
        first = limit.take("frank", "another", put_off_seconds=1.0)  # another of frank's is being sent
        assert first and delivery and queue.claim() == delivery
        assert limit.take("frank", delivery, put_off_seconds=1.0) is None and queue.claim() is None  # put off
        assert limit.release("frank", first) and queue.claim() == delivery  # its owner's turn: due now
        leased = own.zscore(job_keys.WEBHOOKS_DUE, delivery)
        second = limit.take("frank", delivery, put_off_seconds=1.0)
        assert second and not limit.release("frank", second)  # nothing else put off: nothing woken
        assert own.zscore(job_keys.WEBHOOKS_DUE, delivery) == leased and queue.claim() is None  # its lease stands
        third = limit.take("frank", "another", put_off_seconds=1.0)
        assert third and limit.take("frank", delivery, put_off_seconds=1.0) is None  # put off again (claimed)
        own.zadd(job_keys.WEBHOOKS_DUE, {delivery: leased})  # and claimed since by another worker
        assert not limit.release("frank", third)  # claimed since: its lease stands
        assert own.zscore(job_keys.WEBHOOKS_DUE, delivery) == leased and queue.claim() is None
    finally:
        own.flushdb()
