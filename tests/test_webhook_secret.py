"""The webhook key made once per data directory (no WEBHOOK_SECRET): whole before any delivery is signed with it.
A real queue on a database of its own sends to a real HTTP receiver, as a sender thread would."""

from __future__ import annotations

import base64
import threading
import uuid

import pytest
import redis

from jobs import keys as job_keys
from jobs.webhooks import SECRET_FILE, WebhookQueue, secret_key, verify
from tests.test_api_contract import Receiver


@pytest.fixture()
def own_db(redis_url):
    own = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/11")
    yield own
    own.flushdb()


def test_an_empty_key_file_is_replaced_not_signed_with(own_db, settings, tmp_path):
    """The key file had been created empty and then written: a write that met a full disk or a kill left it
    empty, and every later delivery was signed with an empty HMAC key without a word (a process reading between
    the two steps did the same once). Such a file is replaced by a whole key, which the delivery is signed with."""
    (tmp_path / SECRET_FILE).write_text("")
    settings = {**settings, "WEBHOOK_SECRET": "", "DATA_DIR": str(tmp_path)}
    queue, receiver = WebhookQueue(own_db, settings), Receiver()
    try:
        job = {"job_id": f"secret-{uuid.uuid4().hex}", "owner": "erin", "webhook": receiver.url,
               "webhook_events": ["completed"]}
        own_db.hset(job_keys.job(job["job_id"]), mapping={"state": "succeeded"})
        delivery = queue.enqueue(job, "completed", {"state": "succeeded"})
        assert queue.claim() == delivery and queue.send(delivery) == "delivered"
    finally:
        receiver.close()
    written = (tmp_path / SECRET_FILE).read_text().strip()
    assert written.startswith("whsec_") and len(base64.b64decode(written[len("whsec_"):])) == 32
    (sent,) = receiver.deliveries
    assert verify(base64.b64decode(written[len("whsec_"):]), sent["headers"], sent["body"])
    assert not verify(b"", sent["headers"], sent["body"])
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # nothing half made left


def test_processes_making_the_key_at_once_agree_on_one(tmp_path):
    """Every first delivery of a fresh data directory makes the key: 8 threads at once get one key, never empty."""
    settings = {"WEBHOOK_SECRET": "", "DATA_DIR": str(tmp_path)}
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def make() -> None:
        barrier.wait()
        keys.append(secret_key(settings))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 32
