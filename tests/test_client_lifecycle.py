"""The Python client's life in a developer's program: `with MusicAnalyzer(...)` and close() (connections of every
thread), waiting for a job that fails, is canceled or outlasts the wait, and progress heard while waiting."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import psutil
import pytest
from music_analyzer_client import JobEvent, JobFailed, MusicAnalyzer, MusicAnalyzerError, WaitTimeout

from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER, queued_record
from tests.keepalive_server import keepalive_serving
from tests.test_api_sessions import user_session_dir


@pytest.fixture(scope="module")
def keepalive_server(app, celery_worker):
    with keepalive_serving(app) as base:
        yield base


def client_sockets(server: str) -> set[tuple[str, int]]:
    """This process's open TCP connections to the server (their local addresses): the client's side only."""
    port = urlsplit(server).port
    return {(c.laddr.ip, c.laddr.port) for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == port}


def test_with_closes_the_connections_of_every_thread(keepalive_server):
    server = keepalive_server
    before = client_sockets(server)
    with ThreadPoolExecutor(4) as pool:  # its threads outlive the client: their connections must not
        with MusicAnalyzer(server, USER, PASSWORD) as ma:
            barrier = threading.Barrier(4)

            def read(_: int) -> bool:
                barrier.wait()  # all four at once: one connection per thread
                return ma.storage() is not None

            assert all(pool.map(read, range(4)))
            opened = client_sockets(server) - before
            assert len(opened) >= 4
        assert not opened & client_sockets(server), "connections left open after the with block"
        assert ma.storage() is not None  # still usable after close(): a new connection
    ma.close()
    assert not (client_sockets(server) - before)


@pytest.fixture()
def ma(server, celery_worker) -> MusicAnalyzer:
    with MusicAnalyzer(server, USER, PASSWORD) as client:
        yield client


def test_wait_check_raises_a_failed_job_as_job_failed(ma, audio_dir, settings):
    sid = ma.create_session()
    name = ma.upload(sid, write(audio_dir / "soon broken.wav", sine(440, 1.0)))["name"]
    (user_session_dir(settings, USER, sid) / "uploads" / name).write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    job_id = ma.start_job("features", sid, file=name)["job_id"]
    assert ma.wait(job_id)["state"] == "failed"  # without check: the record, as before
    with pytest.raises(JobFailed) as caught:  # the README's `record["result"]` had been a KeyError
        ma.wait(job_id, check=True)
    e = caught.value
    assert isinstance(e, MusicAnalyzerError) and e.status is None and e.code == e.job["error"]["code"] != "failed"
    assert e.job["state"] == "failed" and e.details["job_id"] == job_id and e.message


def test_wait_check_raises_on_timeout_and_on_a_canceled_job(ma, app, settings):
    sid = ma.create_session()
    job = queued_record(app, owner=USER, job_type="features", session_id=sid, queue=settings["CPU_QUEUE"],
                        task="music_analyzer.features", params={"files": ["x.wav"], "batch": False, "options": {}})
    with pytest.raises(WaitTimeout) as caught:  # stays queued: no message was sent for it
        ma.wait(job["job_id"], timeout=0.3, check=True)
    assert caught.value.code == "wait_timeout" and caught.value.job["state"] == "queued"
    assert ma.wait(job["job_id"], timeout=0.1)["state"] == "queued"  # without check: returned as it is
    assert ma.cancel(job["job_id"])["state"] == "canceled"
    with pytest.raises(JobFailed) as failed:
        ma.wait(job["job_id"], check=True)
    assert failed.value.code == "canceled" and failed.value.job["state"] == "canceled"


def test_wait_tells_on_event_the_progress_then_done(ma, audio_dir):
    sid = ma.create_session()
    name = ma.upload(sid, write(audio_dir / "heard.wav", sine(330, 2.0)))["name"]
    job_id = ma.start_job("features", sid, file=name)["job_id"]
    heard: list[JobEvent] = []
    record = ma.wait(job_id, check=True, on_event=heard.append)
    assert record["state"] == "succeeded" and heard[-1] == {"event": "done", "id": None, "data": dict(record)}
    assert all(e["event"] == "progress" and e["data"]["state"] in ("queued", "running") for e in heard[:-1])
    steps = [(e["data"]["state"], e["data"]["progress"], e["data"]["stage"]) for e in heard[:-1]]
    assert len(steps) == len(set(steps))  # only changes are told


def test_a_command_that_ends_within_its_wait_still_tells_on_event_done(ma):
    """generate's (and every model command's) `on_event` had heard nothing when the job ended within the
    request's wait: the server's 200 came with the result, and no event was told."""
    heard: list[JobEvent] = []
    result = ma.unload_model(wait=60, on_event=heard.append)  # nothing loaded: done at once, within the wait
    assert heard and heard[-1]["event"] == "done", heard
    record = heard[-1]["data"]
    assert record["state"] == "succeeded" and record["type"] == "model_unload"
    assert result == {**record["result"], "job_id": record["job_id"]}  # the result, and which job it was
    # a question the measurements answer is answered in the request (200 whatever the wait): done all the same
    told: list[JobEvent] = []
    answer = ma.library.ask("list my tracks", on_event=told.append)
    assert [e["event"] for e in told] == ["done"] and told[0]["data"]["job_id"] == answer["job_id"]
    assert {**told[0]["data"]["result"], "job_id": answer["job_id"]} == answer
    assert told[0]["data"]["state"] == "succeeded"


def test_an_upload_of_a_file_that_cannot_be_read_raises_the_clients_error(ma, session_id, tmp_path):
    """Every failure raises MusicAnalyzerError, says the client: a missing file had been a bare FileNotFoundError."""
    from music_analyzer_client import MusicAnalyzerError

    with pytest.raises(MusicAnalyzerError) as missing:
        ma.upload(session_id, tmp_path / "nowhere.wav")
    assert missing.value.code == "file_unreadable" and "nowhere.wav" in str(missing.value)
    assert "No such file" in str(missing.value)
    with pytest.raises(MusicAnalyzerError) as folder:
        ma.upload(session_id, tmp_path)
    assert folder.value.code == "file_unreadable"
