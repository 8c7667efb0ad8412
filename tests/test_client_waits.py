"""The Python client through a server that is away for a while (nginx's 502 while the API restarts, a cut
connection) and a wait that another thread ends: a stranger's app, whose worker thread sat in `wait()` with no
way out, and whose `wait()` and `health()` gave up on a restart the command line rides through."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from music_analyzer_client import JobEvent, MusicAnalyzer, MusicAnalyzerError, WaitTimeout
from werkzeug.serving import make_server

from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER, queued_record

_BAD_GATEWAY_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
BAD_GATEWAY = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nRetry-After: 0\r\n"  # nginx's, API restarting
               b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_BAD_GATEWAY_PAGE)) + _BAD_GATEWAY_PAGE


@contextmanager
def away_then_serving(app, answers: list[bytes | None]) -> Iterator[str]:
    """A port whose first connections get `answers` (an HTTP answer written by hand, or None: closed without one),
    one each, after which `app` serves on that same listening socket (closed and bound again, its port could be
    taken in between). Yields the base URL."""
    away = socket.socket()
    away.bind(("127.0.0.1", 0))
    away.listen()
    port = away.getsockname()[1]
    served: dict[str, object] = {}

    def front() -> None:
        for answer in answers:
            conn, _ = away.accept()
            if answer is not None:
                request = b""
                while b"\r\n\r\n" not in request:  # the requests here are GETs: no body
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                conn.sendall(answer)
            conn.close()
        srv = served["srv"] = make_server("127.0.0.1", port, app, threaded=True, fd=away.detach())
        srv.serve_forever()

    thread = threading.Thread(target=front, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv = served.get("srv")
        if srv is not None:
            srv.shutdown()  # type: ignore[attr-defined]
            srv.server_close()  # type: ignore[attr-defined]


def test_health_is_retried_through_the_fronts_502_like_every_read(app, celery_worker):
    """`health()` alone had no retry: a monitoring script's check during an API restart raised "the server answered
    502 Bad Gateway" where sessions(), job() and the rest waited the restart out."""
    with away_then_serving(app, [BAD_GATEWAY]) as base:
        health = MusicAnalyzer(base, USER, PASSWORD).health()
    assert health["status"] == "ok" and health["redis"]["ok"], health


@pytest.fixture()
def ma(server, celery_worker) -> Iterator[MusicAnalyzer]:
    with MusicAnalyzer(server, USER, PASSWORD) as client:
        yield client


def stopped_wait(ma: MusicAnalyzer, job_id: str, *, check: bool) -> object:
    """wait(job_id, stop=...) in a thread, stopped once it has read the job: what it returned or raised."""
    stop, waiting = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def heard(event: JobEvent) -> None:
        waiting.set()  # it has read the job once: its next request is a long poll

    def waiter() -> None:
        try:
            outcome["done"] = ma.wait(job_id, stop=stop, check=check, on_event=heard)
        except MusicAnalyzerError as e:
            outcome["done"] = e

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert waiting.wait(30)
    stop.set()
    thread.join(10)  # a long poll is at most STOP_POLL_SECONDS while a stop may come
    assert not thread.is_alive(), "wait() went on after its stop was set"
    return outcome["done"]


def test_a_wait_ends_when_another_thread_sets_its_stop_event(ma, app, settings):
    """A stranger's app waited for jobs in worker threads: at shutdown they sat in 60 s long polls, over and over,
    with nothing to end them. `stop=` ends the wait soon after it is set: the record as it then is, or WaitTimeout
    (code wait_stopped) with check=True."""
    sid = ma.create_session()
    job = queued_record(app, owner=USER, job_type="features", session_id=sid, queue=settings["CPU_QUEUE"],
                        task="music_analyzer.features", params={"files": ["x.wav"], "batch": False, "options": {}})
    try:
        record = stopped_wait(ma, job["job_id"], check=False)
        assert isinstance(record, dict) and record["state"] == "queued" and record["job_id"] == job["job_id"]
        error = stopped_wait(ma, job["job_id"], check=True)
        assert isinstance(error, WaitTimeout) and error.code == "wait_stopped", error
        assert error.job["state"] == "queued" and "stopped" in error.message
        # a stop set before the wait: the record at once, as wait(timeout=0) gives it
        set_already = threading.Event()
        set_already.set()
        assert ma.wait(job["job_id"], stop=set_already)["state"] == "queued"
    finally:
        ma.cancel(job["job_id"])


def test_a_wait_rides_through_the_server_going_away(ma, app, audio_dir):
    """A stranger's `wait()` across `run.py`'s restart raised "cannot reach the server ... Connection refused" after
    its retries (18 s), though the job ran on and succeeded; `music-analyzer analyze --wait` follows through 5 min
    of it. Here its retries are none, so the front's 502 and then a cut connection must be waited out by wait()."""
    sid = ma.create_session()
    name = ma.upload(sid, write(audio_dir / "through.wav", sine(392, 1.0)))["name"]
    job = ma.start_job("features", sid, file=name)
    assert ma.wait(job["job_id"])["state"] == "succeeded"
    with away_then_serving(app, [BAD_GATEWAY, None]) as base:
        record = MusicAnalyzer(base, USER, PASSWORD, retries=0).wait(job["job_id"], timeout=60, check=True)
    assert record["state"] == "succeeded" and record["job_id"] == job["job_id"]


def test_a_jobs_events_ride_through_the_server_going_away(ma, app, audio_dir):
    """`events()` gave up as `wait()` did: its reconnection raised once one request's retries were spent, where the
    README says the stream is resumed after a dropped connection (with Last-Event-ID, nothing missed)."""
    sid = ma.create_session()
    name = ma.upload(sid, write(audio_dir / "streamed through.wav", sine(349, 1.0)))["name"]
    job = ma.start_job("features", sid, file=name)
    assert ma.wait(job["job_id"])["state"] == "succeeded"
    with away_then_serving(app, [BAD_GATEWAY, None]) as base:
        events = list(MusicAnalyzer(base, USER, PASSWORD, retries=0).events(job["job_id"]))
    assert events[-1]["event"] == "done" and events[-1]["data"]["state"] == "succeeded", events


def test_a_wait_on_a_server_that_never_answered_fails_at_once(ma):
    """Waiting out an absence is for a server that has answered this client: a wrong URL is said at once."""
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there: refused
    with pytest.raises(MusicAnalyzerError) as caught:
        MusicAnalyzer(f"http://127.0.0.1:{port}", USER, PASSWORD).wait("0123456789abcdef", timeout=60)
    assert caught.value.unreachable
    with pytest.raises(MusicAnalyzerError) as streamed:
        list(MusicAnalyzer(f"http://127.0.0.1:{port}", USER, PASSWORD).events("0123456789abcdef"))
    assert streamed.value.unreachable
