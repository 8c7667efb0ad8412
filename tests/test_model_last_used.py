"""A load that finds its model already resident uses it: GET /api/v2/models/status's `last_used` of that model moves.

A stranger's second POST /api/v2/models/load of the resident SmolLM2 answered `already_loaded` and left `last_used` as
it was (the worker touched the model but did not publish the status the API reads). Real HTTP, Redis, Celery worker
and SmolLM2 weights."""

from __future__ import annotations


def last_used(client) -> str | None:
    rows = {m["model_type"]: m for m in client.get("/api/v2/models/status").json()["models"]}
    return rows["smollm2-135m"]["last_used"]


def test_loading_the_resident_model_again_updates_its_last_used(client, smollm2_folder):
    assert client.post("/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 300}).status_code == 200
    before = last_used(client)
    r = client.post("/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 300})
    assert r.status_code == 200 and r.json()["already_loaded"] is True, r.text
    after = last_used(client)
    assert before is not None and after is not None and after > before, (before, after)
