"""GET /jobs/<id>/events over real HTTP, with real Redis and the session's real Celery worker.

Where a test must see a job before it runs, it creates the record without publishing it (as
test_api_jobs.py's cancel tests do) and publishes it once the stream is open; where it must hold a job
between two events, the test makes the worker-side store calls itself, so no timing decides the outcome.
"""

from __future__ import annotations

import pytest
import requests

from jobs.event_log import NO_EVENT_ID, parse_event_id
from jobs.store import EVENT_LOG_MAX_ENTRIES
from jobs.types import JOB_TYPES
from tests.audio_synth import sine, write
from tests.conftest import USER, queued_record
from tests.sse import SseStream, open_stream
from tests.test_api_sessions import upload

# a tone no other test module uploads: results are cached per owner by the audio's content (jobs/cache.py),
# so a common one would hand another module's first analysis a cached result
TONE_HZ, TONE_SECONDS = 466.16, 1.7


@pytest.fixture()
def tone_session(client, session_id, audio_dir):
    upload(client, session_id, write(audio_dir / "events-tone.wav", sine(TONE_HZ, TONE_SECONDS)))
    return session_id


# what the test, playing the worker, hands over: a result of the features shape, because the job stays in the
# store and the contract test (same session, same user) validates every job GET /jobs lists against the spec
PLAYED_RESULT = {"batch": True, "results": [], "errors": [
    {"filename": "events-tone.wav", "code": "invalid_audio", "message": "played by the test"}]}


def unpublished_job(app, session_id: str | None, settings: dict) -> str:
    """A features job record that no worker has been told about: it stays queued until published."""
    job = queued_record(
        app, owner=USER, job_type="features", session_id=session_id, queue=settings["CPU_QUEUE"],
        task=JOB_TYPES["features"].task, params={"files": ["events-tone.wav"], "batch": False, "options": {}})
    return job["job_id"]


def live_worker(app) -> str:
    """The session worker's identity: a job 'running' under it is left alone by recovery (its heartbeat lives)."""
    return app.extensions["worker_identity"]


def stream(client, job_id: str, last_event_id: str | None = None) -> SseStream:
    return open_stream(client.base, job_id, client.s.auth, last_event_id)


def ids_increase(events) -> bool:
    keys = [parse_event_id(e.id) for e in events]
    return all(a < b for a, b in zip(keys, keys[1:], strict=False))


def test_a_features_jobs_stream_shows_queued_running_progress_then_the_final_record(app, client, tone_session,
                                                                                    settings):
    from jobs.submit import publish

    job_id = unpublished_job(app, tone_session, settings)
    with stream(client, job_id) as events:
        headers = events.response.headers
        assert headers["Content-Type"].startswith("text/event-stream") and headers["Cache-Control"] == "no-cache"
        assert headers["X-Request-ID"]
        first = events.next()
        assert events.retry == 2000  # sent before the first event
        assert (first.event, first.id, first.json()) == (
            "state", NO_EVENT_ID,
            {"state": "queued", "progress": 0.0, "stage": "queued", "attempts": 0, "jobs_ahead": None,
             "eta": {"seconds_left": None, "starts_in": None, "basis": None}})  # its message not sent: no basis
        with app.app_context():
            publish(JOB_TYPES["features"].task, job_id, settings["CPU_QUEUE"])
        # until the server ends the stream; a queued job's new place (its message now sent) may come first
        rest = [e for e in events.events() if "jobs_ahead" not in e.json()]
    assert [e.event for e in rest[:1]] == ["state"] and rest[0].json()["state"] == "running"
    progress = [e.json() for e in rest if e.event == "progress"]
    fractions = [p["progress"] for p in progress]
    assert len(fractions) >= 3 and fractions == sorted(fractions) and fractions[0] < fractions[-1] < 1, progress
    assert [p["stage"] for p in progress][:2] == ["decoding", "features"]
    done = rest[-1]
    assert done.event == "done" and [e.event for e in rest].count("done") == 1
    assert done.json() == client.get(f"/jobs/{job_id}").json()  # the final record, as GET /jobs/<id> has it
    assert done.json()["state"] == "succeeded" and done.json()["result"]["filename"] == "events-tone.wav"
    assert ids_increase([first, *rest])


def test_a_finished_job_answers_its_final_record_at_once_and_204_once_the_client_has_it(client, tone_session):
    job_id = client.post(f"/process/features/{tone_session}", json={"file": "events-tone.wav"}).json()["job_id"]
    final = client.wait_job(job_id)
    with stream(client, job_id) as events:
        got = events.events()
    assert [e.event for e in got] == ["done"] and got[0].json() == final
    # what EventSource does after `done`: reconnect with its id. 204 tells it to stop.
    again = requests.get(f"{client.base}/jobs/{job_id}/events", auth=client.s.auth,
                         headers={"Last-Event-ID": got[0].id}, timeout=10)
    assert again.status_code == 204 and again.content == b""
    # an id from before the end (a client that missed it) gets the final record again
    with stream(client, job_id, last_event_id="1-0") as events:
        assert [(e.event, e.id) for e in events.events()] == [("done", got[0].id)]


def test_reconnecting_with_last_event_id_replays_only_what_came_after(app, client, settings):
    jobs = app.extensions["music_analyzer"].jobs
    job_id = unpublished_job(app, None, settings)
    # the test plays the worker's part with the store's own calls, so it decides when each event happens
    assert jobs.start(job_id, worker=live_worker(app), max_attempts=2) == "run"
    jobs.progress(job_id, 0.25, "first")
    jobs.progress(job_id, 0.5, "second")
    with stream(client, job_id) as fresh:  # a new listener: the current state, with the newest id
        now = fresh.next()
    # (its `eta`: none yet, the progress written within the attempt's first 2 s)
    assert (now.event, now.json()) == ("state", {"state": "running", "progress": 0.5, "stage": "second",
                                                 "attempts": 1, "eta": {"seconds_left": None, "basis": None}})

    with stream(client, job_id, last_event_id=NO_EVENT_ID) as everything:
        start, first, second = everything.next(), everything.next(), everything.next()
    assert [(e.event, e.json()["stage"]) for e in (start, first, second)] == [
        ("state", "starting"), ("progress", "first"), ("progress", "second")]
    assert second.id == now.id and ids_increase([start, first, second])

    with stream(client, job_id, last_event_id=first.id) as resumed:
        replayed = resumed.next()
        assert (replayed.id, replayed.json()) == (second.id, second.json())  # only what came after `first`
        jobs.progress(job_id, 0.75, "third")
        live = resumed.next()
        assert (live.event, live.json()["stage"]) == ("progress", "third") and ids_increase([second, live])
        jobs.succeed(job_id, PLAYED_RESULT)
        done = resumed.next()
        assert done.event == "done" and done.json()["state"] == "succeeded" and done.json()["result"] == PLAYED_RESULT
        assert ids_increase([live, done]) and resumed.next() is None  # and the stream ends


def test_an_idle_stream_sends_keep_alives_and_a_cancel_ends_it_with_the_final_record(app, client, settings):
    job_id = unpublished_job(app, None, settings)
    app.config["EVENTS_HEARTBEAT_SECONDS"] = 0.2  # read per request: only streams opened meanwhile
    try:
        with stream(client, job_id) as events:
            assert events.next().json()["state"] == "queued"
            beats = [events.next(), events.next()]
            assert all(b.event is None and b.data == "keep-alive" for b in beats)
            assert client.delete(f"/jobs/{job_id}").json()["state"] == "canceled"
            while (event := events.next()) is not None and event.event is None:
                continue  # a keep-alive may come first
            assert event is not None and event.event == "done" and event.json()["state"] == "canceled"
            assert events.next() is None
    finally:
        app.config["EVENTS_HEARTBEAT_SECONDS"] = settings.get("EVENTS_HEARTBEAT_SECONDS", 15.0)


def test_events_trimmed_away_are_replaced_by_the_current_state(app, client, settings):
    jobs = app.extensions["music_analyzer"].jobs
    job_id = unpublished_job(app, None, settings)
    jobs.start(job_id, worker=live_worker(app), max_attempts=2)
    with stream(client, job_id, last_event_id=NO_EVENT_ID) as events:
        started = events.next()
    for i in range(EVENT_LOG_MAX_ENTRIES + 200):  # past the cap: the oldest entries are trimmed
        jobs.progress(job_id, i / (EVENT_LOG_MAX_ENTRIES + 200), f"step {i}")
    with stream(client, job_id, last_event_id=started.id) as events:
        first = events.next()
    # the events after `started` are partly gone: the client gets where the job is now, not a hole
    assert first.event == "state" and first.json()["stage"] == f"step {EVENT_LOG_MAX_ENTRIES + 199}"
    jobs.mark_canceled(job_id)


def test_last_event_id_must_be_an_event_id_and_an_unknown_one_restarts_from_the_current_state(app, client,
                                                                                              settings):
    job_id = unpublished_job(app, None, settings)
    r = client.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": "yesterday"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_last_event_id"
    with stream(client, job_id, last_event_id="99999999999999-0") as events:  # newer than anything logged
        first = events.next()
    assert (first.event, first.id, first.json()["state"]) == ("state", NO_EVENT_ID, "queued")
    app.extensions["music_analyzer"].jobs.mark_canceled(job_id)


def test_another_users_job_stream_is_404_as_for_a_missing_one_and_the_admin_may_listen(
        app, client, other_client, admin_client, settings):
    job_id = unpublished_job(app, None, settings)
    missing = other_client.get("/jobs/0123456789abcdef/events")
    theirs = other_client.get(f"/jobs/{job_id}/events")
    assert (theirs.status_code, missing.status_code) == (404, 404)
    assert theirs.json()["error"]["code"] == missing.json()["error"]["code"] == "job_not_found"
    assert requests.get(f"{client.base}/jobs/{job_id}/events", timeout=10).status_code == 401
    app.extensions["music_analyzer"].jobs.mark_canceled(job_id)
    with stream(admin_client, job_id) as events:
        assert [e.json()["state"] for e in events.events()] == ["canceled"]
