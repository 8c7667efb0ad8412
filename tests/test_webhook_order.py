"""One job's webhook deliveries reach the receiver in the order they happened. A stranger's receiver had
answered a job's start with an error once: the start's retry came after job.completed and the receiver showed
the finished job as running. The queue on a database of its own (the session's workers send from database 0),
a real HTTP receiver, real Redis; each attempt is made by calling the queue as a sender thread would."""

from __future__ import annotations

import uuid

import pytest
import redis

from jobs import keys as job_keys
from jobs.webhooks import WebhookQueue
from tests.test_api_contract import Receiver


@pytest.fixture()
def own_db(redis_url):
    own = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/11")
    yield own
    own.flushdb()


def a_job(own: redis.Redis, url: str) -> dict:
    job = {"job_id": f"order-{uuid.uuid4().hex}", "owner": "dave", "webhook": url,
           "webhook_events": ["start", "completed"]}
    own.hset(job_keys.job(job["job_id"]), mapping={"state": "succeeded"})
    return job


def test_a_completion_waits_for_its_jobs_retried_start(own_db, settings):
    queue, receiver = WebhookQueue(own_db, settings), Receiver(fail_first=1, fail_type="job.start")
    try:
        job = a_job(own_db, receiver.url)
        start = queue.enqueue(job, "start", {"state": "running"})
        completed = queue.enqueue(job, "completed", {"state": "succeeded"})
        assert queue.claim() == start and queue.send(start) == "pending"  # 500: retried after its backoff
        assert queue.claim() == completed and queue.send(completed) == "waiting"  # not sent before the start
        assert queue.claim() is None  # the completion is due only after the start's retry
        assert queue.send(start) == "delivered"  # the retry (its backoff over)
        assert queue.claim() == completed, "the start's end did not make the completion due"
        assert queue.send(completed) == "delivered"
        assert [(d["answered"], d["body"].count(b"job.start")) for d in receiver.deliveries] == [
            (500, 1), (200, 1), (200, 0)]
        assert [(h["event"], h["state"], h["attempts"]) for h in queue.history(job["job_id"])] == [
            ("start", "delivered", 2), ("completed", "delivered", 1)]  # waiting counted no attempt
    finally:
        receiver.close()


def test_a_start_given_up_on_lets_the_completion_go(own_db, settings):
    queue = WebhookQueue(own_db, {**settings, "WEBHOOK_MAX_ATTEMPTS": 1})
    receiver = Receiver(fail_first=1, fail_type="job.start")
    try:
        job = a_job(own_db, receiver.url)
        start = queue.enqueue(job, "start", {"state": "running"})
        completed = queue.enqueue(job, "completed", {"state": "succeeded"})
        assert queue.claim() == start and queue.send(start) == "failed"
        assert queue.claim() == completed and queue.send(completed) == "delivered"
    finally:
        receiver.close()
    assert receiver.events() == ["job.completed"]


def test_an_earlier_delivery_gone_from_the_schedule_holds_nothing_up(own_db, settings):
    """A delivery record left pending but no longer scheduled (its session erased mid-way) would never end."""
    queue, receiver = WebhookQueue(own_db, settings), Receiver()
    try:
        job = a_job(own_db, receiver.url)
        start = queue.enqueue(job, "start", {"state": "running"})
        completed = queue.enqueue(job, "completed", {"state": "succeeded"})
        own_db.zrem(job_keys.WEBHOOKS_DUE, start)
        assert queue.claim() == completed and queue.send(completed) == "delivered"
    finally:
        receiver.close()
    assert receiver.events() == ["job.completed"]


def test_the_completion_is_released_past_a_progress_event_dropped_meanwhile(own_db, settings):
    """In CI: the start's first attempt was in flight (leased for 60 s) when the job ended; its progress event was
    dropped and the completion, behind the start, waited for the lease's end after the start's retry was
    delivered, past the test's 60 s. The start's end makes the next delivery still scheduled due."""
    queue, receiver = WebhookQueue(own_db, settings), Receiver(fail_first=1, fail_type="job.start")
    try:
        job = {**a_job(own_db, receiver.url), "webhook_events": ["start", "progress", "completed"]}
        start = queue.enqueue(job, "start", {"state": "running"})
        progress = queue.enqueue(job, "progress", {"state": "running", "progress": 0.5})
        completed = queue.enqueue(job, "completed", {"state": "succeeded"})
        assert queue.claim() == start  # in flight: due again only at its lease's end
        assert queue.claim() == progress and queue.send(progress) == "superseded"  # the job has ended
        assert queue.claim() == completed and queue.send(completed) == "waiting"
        assert queue.send(start) == "pending" and queue.send(start) == "delivered"  # 500, then its retry
        assert queue.claim() == completed and queue.send(completed) == "delivered"
    finally:
        receiver.close()
    assert receiver.events() == ["job.start", "job.completed"]


def test_the_end_of_an_earlier_delivery_keeps_a_claimed_next_ones_lease(own_db, settings):
    """Two senders claimed a job's start and its completion at once (both due); the start's end made the completion
    due now (a ZADD LT on its due time, which a claim had set to its lease end): a third claim got it while its
    first sender was still at it, and it could be sent twice at once. Only a delivery still waiting as its waiting
    set it is woken."""
    queue, receiver = WebhookQueue(own_db, settings), Receiver()
    try:
        job = a_job(own_db, receiver.url)
        start = queue.enqueue(job, "start", {"state": "running"})
        completed = queue.enqueue(job, "completed", {"state": "succeeded"})
        assert queue.claim() == start and queue.claim() == completed  # two senders, each at one of them
        leased = own_db.zscore(job_keys.WEBHOOKS_DUE, completed)
        assert queue.send(start) == "delivered"
        assert own_db.zscore(job_keys.WEBHOOKS_DUE, completed) == leased, "the start's end cut the lease short"
        assert queue.claim() is None  # no second sender for the completion while its first has it
        assert queue.send(completed) == "delivered"  # its first sender goes on: the start has ended
    finally:
        receiver.close()
    assert receiver.events() == ["job.start", "job.completed"]
