"""A job whose text generation reads a long prompt tells its time left: its share stays at 0 during the one forward
pass over the prompt (~60 s for 8 k tokens of SmolLM2 on this CPU) and its `eta` had been null, though the record's
`generation.prompt_seconds_left` had a figure (jobs/estimates.py prompt_left). Real HTTP, Redis, Celery worker and
SmolLM2; the job's event stream."""

from __future__ import annotations

from tests.sse import open_stream

# the reading must outlast DETAIL_SECONDS (1 s) after its first layer for a report to carry the layers read
# (jobs/reporting.py): on this 2-core machine 400 words (~430 tokens) were the fewest that did (200 did not), twice
# that leaves room for a less loaded CPU reading faster
READ_FOR_SECONDS = "word " * 800


def test_a_long_prompt_being_read_tells_the_job_its_time_left(client, smollm2_folder):
    """While the prompt is read the job's share stays at 0 (one forward pass: ~60 s for 8 k tokens on this CPU) and its
    `eta` had been null though `generation.prompt_seconds_left` had a figure: the events (each carries the `eta` the
    record had at its report) now say the reading's time left. The model is loaded first, so the share is 0."""
    assert client.post("/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 300}).status_code == 200
    r = client.post("/api/v2/models/generate", json={"prompt": READ_FOR_SECONDS, "max_length": 1, "temperature": 0,
                                                     "model_type": "smollm2-135m", "wait": 0})
    assert r.status_code == 202, r.text
    reading: list[dict] = []
    with open_stream(client.base, r.json()["job_id"], client.s.auth, "1-0") as events:
        while (event := events.next()) is not None and event.event != "done":
            if event.event == "progress" and (event.json().get("generation") or {}).get("phase") == "prompt":
                reading.append(event.json())
    told = [e for e in reading if e["generation"]["prompt_seconds_left"] is not None]
    assert told, reading
    for e in told:
        assert e["progress"] == 0.0 and e["eta"]["basis"] == "generation", e
        assert e["eta"]["seconds_left"] == e["generation"]["prompt_seconds_left"], e
    assert client.wait_job(r.json()["job_id"], timeout=300)["state"] == "succeeded"
