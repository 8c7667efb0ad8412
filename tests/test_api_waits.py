"""One user's share of the requests a process holds while they wait (api/waits.py): past it a long poll answers at
once and an event stream sends the current state and ends, and another user's waits are untouched."""

from __future__ import annotations

import threading
import time

import pytest

from api.waits import HeldStream, Slots
from jobs.types import JOB_TYPES
from tests.conftest import OTHER, OTHER_PASSWORD, PASSWORD, USER, Client, queued_record, serving, wait_for
from tests.sse import open_stream


def test_a_held_stream_gives_its_slot_back_when_closed_even_if_never_read():
    slots = Slots(1)
    assert slots.take("a") and not slots.take("a") and slots.take("b")
    never_read = HeldStream(iter(["x"]), lambda: slots.give_back("a"))
    never_read.close()  # what the server does for a client gone before the body started
    never_read.close()  # once only
    assert slots.held("a") == 0 and slots.held("b") == 1
    with slots.share("a") as first, slots.share("a") as second:
        assert first and not second and slots.held("a") == 1
    assert slots.held("a") == 0


def queued(app, settings, owner: str) -> str:
    return queued_record(app, owner=owner, job_type="features", session_id=None, queue=settings["CPU_QUEUE"],
                         task=JOB_TYPES["features"].task, params={"files": [], "batch": False, "options": {}})["job_id"]


@pytest.fixture()
def narrow(settings, celery_worker):
    """An app whose users may each hold one wait and one stream at once, on its own HTTP socket."""
    from app import create_app

    app = create_app({**settings, "WAITS_PER_USER": 1, "STREAMS_PER_USER": 1})
    with serving(app) as base:
        yield app, base


def test_streams_past_a_users_share_end_after_the_current_state(narrow, settings):
    """A security trial: one user's 1,100 event streams took every listener of the events server, and everyone
    else's live updates and long polls hung."""
    app, base = narrow
    mine, theirs = queued(app, settings, USER), queued(app, settings, OTHER)
    with open_stream(base, mine, (USER, PASSWORD)) as held:
        assert held.next().json()["state"] == "queued"
        streams = app.extensions["stream_slots"]
        assert streams.held(USER) == 1
        with open_stream(base, mine, (USER, PASSWORD)) as extra:  # past the share: state, then the end
            events = extra.events()
            assert [(e.event, e.json()["state"]) for e in events] == [("state", "queued")]
            assert extra.retry == 10_000  # EventSource and the Python client come back in 10 s: a slow poll
        with open_stream(base, theirs, (OTHER, OTHER_PASSWORD)) as other:  # another user's share is untouched
            assert other.next().json()["state"] == "queued" and streams.held(OTHER) == 1
        app.extensions["music_analyzer"].jobs.request_cancel(mine)
        assert [e.event for e in held.events()] == ["done"]  # the held stream goes on to the end
    wait_for(lambda: streams.held(USER) == 0 and streams.held(OTHER) == 0, message="slots given back")


def test_long_polls_past_a_users_share_answer_at_once(narrow, settings):
    """The same trial: 16 requests with a body `wait` held every API thread; another user's GET /sessions took 13 s."""
    app, base = narrow
    alice, bob = Client(base), Client(base, (OTHER, OTHER_PASSWORD))
    job = queued(app, settings, USER)
    first: dict = {}
    poll = threading.Thread(target=lambda: first.update(alice.get(f"/jobs/{job}", params={"wait": 60}).json()))
    poll.start()
    waits = wait_for(lambda: app.extensions.get("wait_slots"), message="the first long poll")
    wait_for(lambda: waits.held(USER) == 1, message="the first long poll to hold its slot")
    t0 = time.monotonic()
    second = alice.get(f"/jobs/{job}", params={"wait": 60})
    assert second.status_code == 200 and second.json()["state"] == "queued"
    assert time.monotonic() - t0 < 20  # at once, not after the 60 s asked for
    r = alice.post("/jobs/probe", json={"queue": "cpu", "wait": 30})  # a probe's answer is its wait: 429
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_waits" and r.headers["Retry-After"] == "5"
    probe = bob.post("/jobs/probe", json={"queue": "cpu", "wait": 30})  # bob's share is his own
    assert probe.status_code == 200 and probe.json()["ok"], probe.text
    app.extensions["music_analyzer"].jobs.request_cancel(job)
    poll.join(timeout=60)
    assert first["state"] == "canceled" and waits.held(USER) == 0
