"""The model status the API, the metrics and the page read is the one a live GPU worker published. A stranger's
restarted GPU worker left "smollm2-135m loaded, 811 MB" behind (its successor publishes only at its first job),
and an unload then found nothing to unload. Real Redis (a database of the test's own), the real registry."""

from __future__ import annotations

import uuid

import redis

from jobs.workers import ModelStatusBoard, WorkerRegistry


def test_a_status_whose_worker_is_gone_reads_as_none(redis_url):
    own = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/10")
    try:
        board, workers = ModelStatusBoard(own), WorkerRegistry(own, heartbeat_seconds=30)
        status = {"current_model": "smollm2-135m", "models": [{"model_type": "smollm2-135m", "loaded": True}]}
        alive, gone = f"gpu@a#{uuid.uuid4().hex[:6]}", f"gpu@b#{uuid.uuid4().hex[:6]}"
        workers.beat(alive)
        board.publish(status, worker=alive)
        assert board.read() == {**status, "published_by": alive}
        board.publish(status, worker=gone)  # a worker that has stopped beating (its record expired)
        assert board.read() is None
        board.publish(status, worker=None)  # published outside a worker (nothing to judge it by): kept
        assert board.read() == {**status, "published_by": None}
    finally:
        own.flushdb()
