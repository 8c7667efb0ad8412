"""Following a job to its end: the server's event stream (GET /jobs/<id>/events, Server-Sent Events), or the long
poll (GET /jobs/<id>?wait=) from a server that has no such route.

The stream sends `state` and `progress` events (`data`: at least state, progress, stage) and ends with a `done`
event whose `data` is the job's full record, as GET /jobs/<id> returns it. Each event has an `id:`; after a
dropped connection the stream is opened again with `Last-Event-ID`, so nothing is missed or repeated. A server
answers 204 to a reconnect after `done` (nothing more to say): the record is then read with GET /jobs/<id>.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from .errors import MusicAnalyzerError, WaitTimeout, job_error
from .records import Job, JobEvent, is_terminal
from .sse import SSEParser

if TYPE_CHECKING:
    from .client import MusicAnalyzer

LONG_POLL_SECONDS = 60.0  # per GET /jobs/<id>?wait= (the server caps it at its JOB_WAIT_MAX_SECONDS)
PROGRESS_POLL_SECONDS = 1.0  # wait(on_event=): how often the job's progress is asked
STOP_POLL_SECONDS = 1.0  # wait(stop=): the longest long poll, so a stop set meanwhile is seen within it
AWAY_RETRY_SECONDS = 2.0  # wait(): between tries while the server is away (502/503/504, no answer)
AWAY_PATIENCE_SECONDS = 300.0  # wait() without a timeout: how long the server may be away (the CLI's patience)
STREAM_READ_TIMEOUT = 75.0  # seconds without a byte: the server sends a keep-alive comment every 15 s
MAX_RECONNECTS = 5  # consecutive broken connections before giving up
MAX_RETRY_SECONDS = 10.0


class NoEventStream(Exception):
    """The server has no event stream for jobs (an older server): follow by long poll instead."""


def follow(client: MusicAnalyzer, job_id: str, *, last_event_id: str | None = None,
           poll_seconds: float = 2.0, away_seconds: float = AWAY_PATIENCE_SECONDS) -> Iterator[JobEvent]:
    """The job's events until its `done` event (see the module's docstring). The server away (see `away`) is waited
    out for up to `away_seconds`, the stream then resumed after its last event."""
    try:
        yield from _stream(client, job_id, last_event_id, away_seconds)
    except NoEventStream:
        yield from long_poll(client, job_id, poll_seconds=poll_seconds)


def away(client: MusicAnalyzer, e: MusicAnalyzerError) -> bool:
    """Whether `e` says the server is away for a while (502, 503, 504, or no answer from a server that has answered
    this client: its API or Redis restarting), not that the request is wrong or the URL is."""
    return e.server_unavailable or (e.unreachable and client._answered)


def _stream(client: MusicAnalyzer, job_id: str, last_event_id: str | None,
            away_seconds: float) -> Iterator[JobEvent]:
    broken = 0
    parser = SSEParser()
    parser.last_event_id = last_event_id
    away_since: float | None = None
    while True:
        parser.new_connection()
        try:
            response = _open(client, job_id, parser.last_event_id)
        except MusicAnalyzerError as e:  # a reconnection had raised once one request's retries were spent
            away_since = time.monotonic() if away_since is None else away_since
            if not away(client, e) or time.monotonic() - away_since >= away_seconds:
                raise
            time.sleep(AWAY_RETRY_SECONDS)  # a backoff between reconnections
            continue
        away_since = None
        if response is None:  # 204: the stream had already ended with `done` for this client
            yield done(client.job(job_id))
            return
        try:
            for chunk in response.iter_content(chunk_size=None):  # whatever has arrived: events are small
                for sse in parser.feed(chunk):
                    broken = 0
                    event = _job_event(client, job_id, sse.event, sse.data, sse.id)
                    yield event
                    if event["event"] == "done":
                        return
        except requests.RequestException:
            pass  # the connection dropped (or went silent past the keep-alives): resume after the last id
        finally:
            response.close()
        broken += 1
        if broken > MAX_RECONNECTS:
            raise MusicAnalyzerError(f"the event stream of job {job_id} broke off {broken} times in a row",
                                     code="unreachable")
        time.sleep(min((parser.retry_ms or 1000) / 1000.0, MAX_RETRY_SECONDS))


def _open(client: MusicAnalyzer, job_id: str, last_event_id: str | None) -> requests.Response | None:
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    try:
        response = client.request("GET", f"/jobs/{quote(str(job_id), safe='')}/events", headers=headers,
                                  stream=True, retry=True, timeout=STREAM_READ_TIMEOUT)
    except MusicAnalyzerError as e:
        # a 404 for the route itself (not for the job: job_not_found) means the server has no stream
        if e.status in (404, 405) and e.code != "job_not_found":
            raise NoEventStream() from e
        raise
    if response.status_code == 204:
        response.close()
        return None
    if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
        response.close()  # something in between answered instead of the stream
        raise NoEventStream()
    return response


def _job_event(client: MusicAnalyzer, job_id: str, kind: str, data: str, event_id: str | None) -> JobEvent:
    try:
        payload: dict[str, Any] = json.loads(data)
    except ValueError as e:
        raise MusicAnalyzerError(f"the event stream of job {job_id} sent data that is not JSON",
                                 code="bad_event") from e
    if kind == "done" or (is_terminal(payload) and "job_id" in payload):
        return {"event": "done", "id": event_id, "data": payload}
    if is_terminal(payload):  # an end announced without the record: read the record
        return {"event": "done", "id": event_id, "data": dict(client.job(job_id))}
    return {"event": kind, "id": event_id, "data": payload}


def long_poll(client: MusicAnalyzer, job_id: str, *, poll_seconds: float = 2.0) -> Iterator[JobEvent]:
    """Events made from GET /jobs/<id>?wait=poll_seconds: one whenever state, progress or stage changed, and
    `done` with the record as soon as the job ends (the server answers a long poll at once then)."""
    seen: tuple[Any, ...] | None = None
    while True:
        job = client.job(job_id, wait=poll_seconds)
        if is_terminal(job):
            yield done(job)
            return
        now = (job.get("state"), job.get("progress"), job.get("stage"), job.get("attempts"), job.get("generation"))
        if now != seen:
            seen = now
            yield {"event": "progress", "id": None, "data": change(now, job.get("eta"))}


def change(now: tuple[Any, ...], eta: Any = None) -> dict[str, Any]:
    """A polled record's (state, progress, stage, attempts, generation) as a stream's event data (`attempts`: a
    retry shows; `generation`: a text generation's tokens, rate and time left, when the record has it), with its
    `eta` (the job's time left; not a change by itself: it moves at every read)."""
    data = {"state": now[0], "progress": now[1], "stage": now[2], "attempts": now[3]}
    if now[4] is not None:
        data["generation"] = now[4]
    if isinstance(eta, dict):
        data["eta"] = eta
    return data


def done(job: Any) -> JobEvent:
    return {"event": "done", "id": None, "data": dict(job)}


def wait_job(client: MusicAnalyzer, job_id: str, *, timeout: float | None, check: bool,
             on_event: Callable[[JobEvent], None] | None, stop: threading.Event | None) -> Job:
    """MusicAnalyzer.wait (see there): long polls until the job ends, `timeout` passes or `stop` is set, the server
    away meanwhile waited out."""
    deadline = None if timeout is None else time.monotonic() + timeout
    poll = LONG_POLL_SECONDS if on_event is None else PROGRESS_POLL_SECONDS
    if stop is not None:
        poll = min(poll, STOP_POLL_SECONDS)
    pause = stop if stop is not None else threading.Event()  # waited on between tries: a stop ends it
    seen: tuple[Any, ...] | None = None
    away_since: float | None = None
    while True:
        stopped = stop is not None and stop.is_set()
        left = poll if deadline is None else min(poll, deadline - time.monotonic())
        try:
            job = client.job(job_id, wait=None if stopped else max(left, 0.0) or None, retry=False)
        except MusicAnalyzerError as e:
            if not away(client, e):
                raise
            away_since = time.monotonic() if away_since is None else away_since
            until = deadline if deadline is not None else away_since + AWAY_PATIENCE_SECONDS
            if stopped or time.monotonic() >= until:
                raise
            pause.wait(min(AWAY_RETRY_SECONDS, max(until - time.monotonic(), 0.0)))
            continue
        away_since = None
        ended = is_terminal(job)
        now = (job.get("state"), job.get("progress"), job.get("stage"), job.get("attempts"), job.get("generation"))
        if on_event is not None and (ended or now != seen):
            seen = now
            on_event(done(job) if ended else {"event": "progress", "id": None, "data": change(now, job.get("eta"))})
        if ended or left <= 0 or stopped or (stop is not None and stop.is_set()):
            break
    if check and not ended:
        if stop is not None and stop.is_set():
            raise WaitTimeout(f"job {job_id} is still {job.get('state')}: the wait was stopped", job=job,
                              code="wait_stopped")
        raise WaitTimeout(f"job {job_id} is still {job.get('state')} after {timeout} s", job=job)
    if check and job.get("state") != "succeeded":
        raise job_error(job)
    return job
