"""GET /jobs/<id>/events: a job's state, progress and stage changes as Server-Sent Events, then its final record.

    retry: 2000                                  (how long EventSource waits before reconnecting)
    id: 1718000000000-0  event: state     data: {"state": "queued", "progress": 0.0, "stage": "queued"}
    id: 1718000000123-0  event: progress  data: {"state": "running", "progress": 0.25, "stage": "..."}
    id: 1718000000456-0  event: progress  data: {..., "finished_file": {"filename": "a.wav", ...}}  (a batch)
    : keep-alive                                 (every EVENTS_HEARTBEAT_SECONDS while nothing happens)
    event: state  data: {"state": "queued", ..., "jobs_ahead": 2, "eta": {...}}   (no id: a queued job's new place
                                                 and when it may start, looked at every PLACE_SECONDS; the first
                                                 state of a queued job has them too)
    id: 1718000004567-0  event: done      data: {the record exactly as GET /jobs/<id> returns it}

The stream ends after `done`. Events come from the job's event log (jobs/event_log.py): the listener
blocks in Redis (XREAD BLOCK) until the store appends the next event, so nothing polls or sleeps. A new
listener first gets the current state; one reconnecting with `Last-Event-ID` gets exactly the events
after it (or, when those were trimmed away, the current state). A finished job answers its final record
at once; a reconnect after `done` gets 204, which tells EventSource to stop reconnecting.

An idle listener costs a blocked greenlet under the gevent server that run.py and docker-compose put
behind nginx for this route (service/programs.py), or a thread where the API serves it itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import redis
from flask import Blueprint, Flask, Response, current_app, request

from api import access, waits
from jobs.event_log import NO_EVENT_ID, Event, EventLog, LogView, event_id_key, parse_event_id
from jobs.queue_position import PLACE_SECONDS, UNTOLD, PlaceWatch, QueuePositions
from jobs.record import TERMINAL_STATES, public_view
from jobs.services import services
from redis_server import redis_client
from worker.errors import InvalidRequestError

log = logging.getLogger(__name__)

bp = Blueprint("events", __name__)

RETRY_MILLISECONDS = 2000  # EventSource's reconnect delay after a dropped connection
# Connections beyond one per listener (each listener's XREAD holds one while it waits): the short reads
# of new requests (access check, the log's bounds) need a few of their own meanwhile.
SPARE_CONNECTIONS = 32
# The event-log client's socket timeout is the heartbeat plus this: a read blocked for a whole heartbeat
# must not time out, but a Redis that stopped answering must still end the stream (the client reconnects).
SOCKET_MARGIN_SECONDS = 10.0
STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # any nginx in front passes each event on at once, whatever its config says
}


@dataclass(frozen=True)
class Opening:
    """What a new connection sends first, and where it then listens from."""

    events: list[str]  # formatted SSE events to send at once
    cursor: str  # the log position to listen after
    finished: bool  # the job has ended: the stream ends after `events`


def heartbeat_seconds(app: Flask) -> float:
    return float(app.config.get("EVENTS_HEARTBEAT_SECONDS", 15.0))


def event_log(app: Flask) -> EventLog:
    """The app's event-log reader, on a Redis client of its own whose reads outlast a heartbeat's block."""
    found = app.extensions.get("event_log")
    if found is None:
        # redis-py's pool refuses a 101st connection by default: with more listeners, they would fail
        client = redis_client(app.config["REDIS_URL"], socket_timeout=heartbeat_seconds(app) + SOCKET_MARGIN_SECONDS,
                              max_connections=int(app.config.get("EVENTS_MAX_LISTENERS", 1000)) + SPARE_CONNECTIONS)
        found = app.extensions["event_log"] = EventLog(client)
    return found


def queue_positions(app: Flask) -> QueuePositions:
    """Queued jobs' places, read on the event-log client: its pool holds a connection per listener."""
    found = app.extensions.get("event_queue_positions")
    if found is None:
        found = app.extensions["event_queue_positions"] = QueuePositions(event_log(app).r)
    return found


def last_event_id() -> tuple[int, int] | None:
    """The client's `Last-Event-ID` (EventSource sends it when it reconnects); 400 when it is not ours."""
    given = request.headers.get("Last-Event-ID")
    if given is None or not given.strip():
        return None
    parsed = parse_event_id(given)
    if parsed is None:
        raise InvalidRequestError("Last-Event-ID must be an event id of this stream, like 1718000000000-0",
                                  code="bad_last_event_id")
    return parsed


def sse(event: str, data: dict, event_id: str) -> str:
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data)}\n\n"


def done_event(job: dict, event_id: str) -> str:
    return sse("done", public_view(job), event_id)


def opening(view: LogView, last: tuple[int, int] | None, place: PlaceWatch | None = None) -> Opening | None:
    """The first events for a connection with `last` (a Last-Event-ID) or none; None: nothing more to say. A queued
    job's first state has its place (`jobs_ahead`), told to `place`."""
    job = view.job
    assert job is not None
    if job["state"] in TERMINAL_STATES:
        final_id = view.first_id or NO_EVENT_ID  # the log keeps only the final event (none: an older job)
        if last is not None and last >= event_id_key(final_id):
            return None  # the client has the final record already
        return Opening([done_event(job, final_id)], final_id, finished=True)
    newest = event_id_key(view.last_id)
    gap = view.trimmed and view.first_id is not None and last is not None and last < event_id_key(view.first_id)
    if last is None or last > newest or gap:  # new, unknown (another job's id?), or events lost to the cap
        current = {"state": job["state"], "progress": job["progress"], "stage": job["stage"],
                   "attempts": job["attempts"]}
        if place is not None and job["state"] == "queued":
            current["jobs_ahead"] = place.read()
            current["eta"] = place.eta  # when it may start (jobs/estimates.py)
        if "partial_result" in (view_now := public_view(job)):  # a batch joined midway: its files so far
            current["partial_result"] = view_now["partial_result"]
        if "generation" in view_now:  # a generation joined midway: its tokens so far
            current["generation"] = view_now["generation"]
        if job["state"] == "running":  # its time left at its own rate (the progress events carry it from here)
            current["eta"] = view_now["eta"]
        return Opening([sse("state", current, view.last_id)], view.last_id, finished=False)
    return Opening([], f"{last[0]}-{last[1]}", finished=False)  # replay what came after it


def stream(events: EventLog, job_id: str, start: Opening, heartbeat: float,
           allowed: Callable[[], bool] = lambda: True, place: PlaceWatch | None = None) -> Iterator[str]:
    """The job's events until its end; `allowed` is asked at every wake-up (an event, or a heartbeat's wait): a
    listener whose user was removed or whose password changed meanwhile is let go, and its reconnect gets 401.
    With `place` (a queued job), its place is looked at every PLACE_SECONDS while it waits and told when it moves."""
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    yield from start.events
    if start.finished:
        return
    cursor = start.cursor
    try:
        if place is not None and place.told == UNTOLD:  # a reconnect's replay has no opening state to carry it
            yield from _place_event(place)
        while True:
            waiting = place is not None and place.waiting
            batch = events.after(job_id, cursor, block_ms=int(min(heartbeat, PLACE_SECONDS) * 1000 if waiting
                                                              else heartbeat * 1000))
            if not allowed():
                log.info("event stream of job %s ended: its user was removed or their password changed", job_id)
                return
            if not batch:
                if not events.exists(job_id):  # expired or deleted meanwhile: a reconnect gets its 404
                    return
                # a comment: keeps proxies from timing the stream out, and a write to a gone client fails
                yield ": keep-alive\n\n"
                if place is not None:
                    yield from _place_event(place)
                continue
            for event in batch:
                cursor = event.id
                if place is not None:
                    place.heard(event.data.get("state"))
                if event.final:
                    yield from _final(events, job_id, event)
                    return
                yield sse(event.kind, event.data, event.id)
    except redis.RedisError as e:  # Redis restarting: end the stream; EventSource reconnects after `retry`
        log.warning("event stream of job %s ended: Redis failed (%s)", job_id, e)


def _place_event(place: PlaceWatch) -> Iterator[str]:
    """A queued job's new place as a `state` event without an id (it is not in the job's log: a reconnect resumes
    after the last logged event and is told its place afresh); nothing when it has not moved."""
    ahead = place.news()
    if ahead != UNTOLD:
        now = {"state": "queued", "progress": 0.0, "stage": place.stage, "jobs_ahead": ahead, "eta": place.eta}
        yield f"event: state\ndata: {json.dumps(now)}\n\n"


def _final(events: EventLog, job_id: str, event: Event) -> Iterator[str]:
    job = events.job(job_id)  # complete: the final transition wrote the result in the same step
    if job is not None:
        yield done_event(job, event.id)


def visible_view(events: EventLog, job_id: str) -> LogView:
    """The job's record and log bounds (one read), if the caller may see the job: access.job's rule and 404."""
    seen: dict[str, LogView] = {}

    def read(key: str) -> dict | None:
        seen["view"] = events.view(key)
        return seen["view"].job

    access.job(job_id, read=read)
    return seen["view"]


@bp.get("/jobs/<job_id>/events")
def job_events(job_id: str):
    last = last_event_id()
    events = event_log(current_app)
    # under gevent a burst of listeners reads at once: every read of this route goes through the event-log
    # client, whose pool holds one connection per listener (the app's shared client stops at 100)
    view = visible_view(events, job_id)
    job = view.job
    place = None if job is None or job["state"] != "queued" or not job.get("queue") else PlaceWatch(
        queue_positions(current_app), queue=job["queue"], job_id=job_id, stage=job["stage"] or "queued")
    start = opening(view, last, place)
    if start is None:
        return Response(status=204, headers={"Cache-Control": "no-cache"})
    slots, user = waits.streams(), access.caller().name
    if not start.finished and not slots.take(user):
        # past the caller's share of this process, or of the threads it may hold waiting (api/waits.py): the current
        # state, then the end of the stream, and the client reconnects after BUSY_RETRY_MILLISECONDS (a slow poll
        # instead of a held connection; behind nginx, to the events server once it is back)
        now = opening(view, None, place)
        assert now is not None  # without a Last-Event-ID there is always something to say
        return Response(busy_stream(now), mimetype="text/event-stream", headers=STREAM_HEADERS)
    # the generator needs no request context: everything it uses is resolved here
    body = stream(events, job_id, start, heartbeat_seconds(current_app), still_signed_in(user), place)
    if start.finished:
        return Response(body, mimetype="text/event-stream", headers=STREAM_HEADERS)
    return Response(waits.HeldStream(body, lambda: slots.give_back(user)), mimetype="text/event-stream",
                    headers=STREAM_HEADERS)


def still_signed_in(name: str) -> Callable[[], bool]:
    """Whether `name` is still a user with the password hash it signed in under (manage.py may change it)."""
    source = services().user_source
    hashed = source.current().hashes.get(name)
    return lambda: source.current().hashes.get(name) == hashed


def busy_stream(now: Opening) -> Iterator[str]:
    yield f"retry: {waits.BUSY_RETRY_MILLISECONDS}\n\n"
    yield from now.events
