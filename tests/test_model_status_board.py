"""The model status with more than one GPU worker (jobs/workers.py ModelStatusBoard), over a real Redis.

One status for all had been the last publisher's: a second GPU worker starting, or one that had only transcribed,
replaced the status of the worker holding the loaded LLM, and /api/v2/models/status, the page and /metrics said
no model was resident (a full run's metrics test read 0 bytes for the loaded SmolLM2 after another test's
workers had run Whisper)."""

from __future__ import annotations

import redis as redis_lib

from jobs import keys
from jobs.workers import ModelStatusBoard, WorkerRegistry


def status(model: str | None) -> dict:
    return {"current_model": model, "device": "cpu", "models": [{"model_type": "smollm2-135m", "loaded": bool(model)}]}


def test_the_worker_holding_a_model_is_the_status_whoever_published_last(private_redis):
    client = redis_lib.Redis.from_url(f"redis://127.0.0.1:{private_redis.port}/0")
    board, workers = ModelStatusBoard(client), WorkerRegistry(client, heartbeat_seconds=30)
    assert board.read() is None  # no worker has published
    for name in ("gpu-a#1.aa", "gpu-b#2.bb"):
        workers.beat(name, node=name.split("#")[0])
    board.publish(status("smollm2-135m"), worker="gpu-a#1.aa")
    board.publish(status(None), worker="gpu-b#2.bb")  # later, holding nothing
    read = board.read()
    assert read is not None and read["current_model"] == "smollm2-135m" and read["published_by"] == "gpu-a#1.aa"
    assert "published_at" not in read  # the API's status keeps its fields
    board.publish(status("qwen"), worker="gpu-b#2.bb")  # both hold one: the latest
    assert board.read()["current_model"] == "qwen"
    board.publish(status(None), worker="gpu-b#2.bb")
    workers.remove("gpu-a#1.aa")  # the worker holding the model stopped: its model went with it
    read = board.read()
    assert read is not None and read["current_model"] is None and read["published_by"] == "gpu-b#2.bb"
    workers.remove("gpu-b#2.bb")
    assert board.read() is None
    assert client.hlen(keys.MODEL_STATUS) == 0  # the gone workers' entries were removed by the reads
