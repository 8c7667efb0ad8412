"""A job's progress events are written when something a reader sees changes, not at every checkpoint.

A stranger's text generation sent 20-30 identical "reading the prompt (N tokens)" events to its event stream and
log, one per layer of the model: each layer is a checkpoint (a cancel is seen there), and each checkpoint wrote.
"""

from __future__ import annotations

import json

from jobs import keys
from jobs.event_log import NO_EVENT_ID
from jobs.reporting import VISIBLE_STEP
from jobs.store import JobStore
from redis_server import redis_client
from tests.sse import open_stream


def logged_progress(store: JobStore, job_id: str) -> list[tuple[float, str]]:
    """(progress, stage) of each progress event in the job's event log, oldest first."""
    entries = store.r.xrange(keys.event_log(job_id))
    events = [json.loads(fields[b"data"]) for _, fields in entries if fields[b"kind"] == b"progress"]
    return [(e["progress"], e["stage"]) for e in events]


def test_checkpoints_that_show_nothing_new_write_no_event(private_redis):
    store = JobStore(redis_client(f"redis://127.0.0.1:{private_redis.port}/0"))
    job_id = store.create(owner="tester", job_type="llm_generate", session_id=None, queue="gpu",
                          task="music_analyzer.llm_generate")["job_id"]
    assert store.start(job_id, worker="gpu@test", max_attempts=2) == "run"
    # no time throttle at all: only what a reader sees decides (a layer of a long prompt takes longer than 50 ms)
    report = store.reporter(job_id, min_interval=0.0)
    reading = "reading the prompt (611 tokens)"
    for _ in range(31):  # the report before the prompt, then one before each of SmolLM2's 30 layers
        report(0.0, reading)
    for token in range(1, 401):  # 400 tokens, a report each: 0.25 % apart
        report(token / 400 * 0.99, "generating")
    report(1.0, "generated")
    events = logged_progress(store, job_id)
    assert events[0] == (0.0, reading) and [e for e in events if e[1] == reading] == [(0.0, reading)]
    generating = [p for p, s in events if s == "generating"]
    # the share is shown as a whole percent: an event each time that changes (0 % to 99 %), none repeats one
    shown = [round(p / VISIBLE_STEP) for p in generating]
    assert shown == list(range(100)), generating
    assert events[-1] == (1.0, "generated")
    assert store.get(job_id)["progress"] == 1.0  # the record says what the last event said


def test_a_generation_sends_one_reading_the_prompt_event(client, smollm2_folder):
    """Over real HTTP with SmolLM2: the job's stream has no progress event that repeats the one before it. Its
    "reading the prompt" events are one, and one more per second of the reading at most, each with more of its
    layers read (its `generation`), however many layers read it."""
    r = client.post("/api/v2/models/generate", json={"prompt": "Summarise: " + "the drum keeps time. " * 120,
                                                     "max_length": 24, "temperature": 0, "wait": 0})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    # from its first event on (the id before any): the stream replays what was written before it was opened
    with open_stream(client.base, job_id, client.s.auth, NO_EVENT_ID) as stream:
        events = stream.events()
    assert events[-1].event == "done" and events[-1].json()["state"] == "succeeded", events[-1].data
    told = [e.json() for e in events if e.event == "progress"]
    progress = [(d["progress"], d["stage"], (d.get("generation") or {}).get("layers_read")) for d in told]
    reading = [p for p in progress if p[1].startswith("reading the prompt (")]
    seconds = next(d["generation"]["seconds"] for d in told if d["stage"] == "generating")  # the reading's and more
    assert 1 <= len(reading) <= 1 + seconds and [p[2] for p in reading] == sorted({p[2] for p in reading}), progress
    assert all(a != b for a, b in zip(progress, progress[1:], strict=False)), progress
