"""The client package (client/) as scripts use it: the typed MusicAnalyzer against the live test service, its
event-stream reading (parser, resume with Last-Event-ID, the long-poll fallback), and what `pip install ./client`
installs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import zipfile
from email.parser import Parser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from music_analyzer_client import MusicAnalyzer, MusicAnalyzerError
from music_analyzer_client.sse import SSEParser, parse_events

from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def ma(server, celery_worker) -> MusicAnalyzer:
    return MusicAnalyzer(server, USER, PASSWORD)


def test_jobs_events_and_errors_through_the_typed_client(ma, audio_dir):
    sid = ma.create_session()
    name = ma.upload(sid, write(audio_dir / "lib tone.wav", sine(440, 1.0)))["name"]
    assert name == "lib_tone.wav"  # the name the server gave it
    key = "lib-test-key-1"
    first = ma.start_job("features", sid, file=name, idempotency_key=key)
    again = ma.start_job("features", sid, file=name, idempotency_key=key)  # a retried request: the same job
    assert again["job_id"] == first["job_id"]
    events = list(ma.events(first["job_id"], poll_seconds=0.5))
    assert events[-1]["event"] == "done" and [e["event"] for e in events].count("done") == 1
    final = events[-1]["data"]
    assert final["state"] == "succeeded" and final["result"]["audio_features"]["dominant_pitch_class"] == "A"
    assert ma.wait(first["job_id"])["files"] == final["files"]
    assert first["job_id"] in {j["job_id"] for j in ma.jobs(session_id=sid, page_size=1)}  # paged by cursor
    with pytest.raises(MusicAnalyzerError) as caught:
        ma.cancel(first["job_id"])
    assert caught.value.status == 409 and caught.value.code == "job_finished" and caught.value.request_id
    with pytest.raises(MusicAnalyzerError) as caught:
        list(ma.events("0123456789abcdef"))
    assert caught.value.status == 404 and caught.value.code == "job_not_found"
    assert caught.value.exit_code() == 1
    json_result = next(f for f in final["files"] if f.endswith(".json"))
    assert ma.delete_file(sid, json_result, area="results")["deleted"] is True
    with pytest.raises(MusicAnalyzerError) as caught:  # the name quoted: unquoted, "#x" was dropped as a fragment
        ma.delete_file(sid, name + "#x")                # and the request deleted `name` itself
    assert caught.value.status == 404 and [f["name"] for f in ma.session(sid)["files"]] == [name]
    assert ma.delete_file(sid, name) == {"session_id": sid, "name": name, "area": "uploads", "deleted": True}
    assert [f["name"] for f in ma.session(sid)["files"]] == []


def test_the_sse_parser_takes_events_split_anywhere():
    stream = (b"retry: 1500\n\n: keep-alive\n\nid: 1-0\nevent: state\ndata: {\"state\": \"queued\"}\n\n"
              b"id: 2-0\r\nevent: progress\r\ndata: {\"state\": \"running\",\r\ndata:  \"progress\": 0.5}\r\n\r\n"
              b"id: 3-0\revent: done\rdata: {\"state\": \"succeeded\", \"note\": \"\xc3\xa9\"}\r\r")
    for size in (1, 2, 7, len(stream)):  # every way a network may cut it
        parser = SSEParser()
        events = list(parse_events((stream[i:i + size] for i in range(0, len(stream), size)), parser))
        assert [(e.event, e.id) for e in events] == [("state", "1-0"), ("progress", "2-0"), ("done", "3-0")]
        assert json.loads(events[1].data) == {"state": "running", "progress": 0.5}
        assert json.loads(events[2].data)["note"] == "é"
        assert parser.retry_ms == 1500 and parser.last_event_id == "3-0"


class ScriptedStream:
    """A real HTTP server playing an event stream that breaks after its first event: the client must come back
    with Last-Event-ID and get the rest."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's name)
                owner.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                if self.headers.get("Last-Event-ID") is None:
                    self.wfile.write(b'retry: 10\n\nid: 7-0\nevent: progress\ndata: {"state": "running", '
                                     b'"progress": 0.5, "stage": "x"}\n\nid: 8-0\nevent: progr')  # cut mid-event
                else:
                    record = {"job_id": "j1", "state": "succeeded", "progress": 1.0, "result": {"ok": True}}
                    self.wfile.write(f"id: 9-0\nevent: done\ndata: {json.dumps(record)}\n\n".encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


def test_a_broken_event_stream_resumes_after_the_last_event_id():
    scripted = ScriptedStream()
    try:
        events = list(MusicAnalyzer(scripted.url, "u", "p").events("j1"))
    finally:
        scripted.server.shutdown()
    assert [(e["event"], e["id"]) for e in events] == [("progress", "7-0"), ("done", "9-0")]
    assert events[-1]["data"]["result"] == {"ok": True}
    assert [r.get("last-event-id") for r in scripted.requests] == [None, "7-0"]
    assert all(r["path"] == "/jobs/j1/events" and r["accept"] == "text/event-stream" for r in scripted.requests)


def test_pip_installs_only_the_client_package(tmp_path):
    """The wheel of ./client: one top-level package, the two commands, and only requests and rich required."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(REPO / "client")], check=True, timeout=300)
    (wheel,) = tmp_path.glob("music_analyzer_client-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(zf.read(info).decode())
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"music_analyzer_client"}
    assert "music_analyzer_client/py.typed" in names
    required = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert sorted(r.split(">")[0].split("=")[0].strip() for r in required) == ["requests", "rich"]
    assert "music-analyzer = music_analyzer_client.cli:main" in entry_points
    assert "ma = music_analyzer_client.cli:main" in entry_points


def test_the_client_tested_is_this_checkouts():
    """On a machine where another clone had installed client/ editable (a shared development machine, CI's
    kept machine), the suite imported that clone's client, in process and in the CLI's subprocesses: a change to
    client/ here was tested as the other code."""
    import music_analyzer_client

    mine = (REPO / "client" / "music_analyzer_client").resolve()
    assert Path(music_analyzer_client.__file__).resolve().parent == mine
    where = subprocess.run([sys.executable, "-c", "import music_analyzer_client as m; print(m.__file__)"],
                           capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    assert Path(where).resolve().parent == mine


def test_a_batch_stops_on_the_errors_its_exit_code_calls_unavailable():
    """The batch stops where no later file could fare better, by the exit code's own rule: it had its own copy,
    which recorded a front's 502/504 (outlasting the client's retries) against each file and went on."""
    from music_analyzer_client.batch import fatal

    stops = [MusicAnalyzerError("down", code="unreachable"), MusicAnalyzerError("no", code="unauthorized", status=401),
             MusicAnalyzerError("slow down", code="too_many_attempts", status=429)]
    stops += [MusicAnalyzerError("busy", code="api_unavailable", status=s) for s in (502, 503, 504)]
    goes_on = [MusicAnalyzerError("bad", code=c, status=s) for s, c in
               ((400, "invalid_option"), (404, "file_not_found"), (409, "model_not_loaded"), (413, "too_large"),
                (415, "not_audio"), (422, "truncated_audio"), (500, "internal_error"))]
    assert [fatal(e) for e in stops] == [True] * len(stops)
    assert [fatal(e) for e in goes_on] == [False] * len(goes_on)


def test_a_followed_job_waits_out_a_server_that_is_away_for_a_while(ma, app, audio_dir):
    """A stranger's `analyze --wait` across a 20 s Redis restart printed "state unknown" and exited 1, though its
    jobs ran again and succeeded. The follower keeps following through answers that say the server is away: here
    its first connection is cut by a listener that is not the server, then the app comes to serve on that port."""
    import io
    import socket

    from music_analyzer_client.ui import LineTracker
    from music_analyzer_client.watching import Follower
    from rich.console import Console
    from werkzeug.serving import make_server

    sid = ma.create_session()
    job = ma.start_job("features", sid, file=ma.upload(sid, write(audio_dir / "away.wav", sine(440, 1.0)))["name"])
    assert ma.wait(job["job_id"])["state"] == "succeeded"
    away = socket.socket()
    away.bind(("127.0.0.1", 0))
    away.listen()
    port = away.getsockname()[1]
    follower = Follower(MusicAnalyzer(f"http://127.0.0.1:{port}", USER, PASSWORD, retries=0),
                        LineTracker(Console(file=io.StringIO()), quiet=True))
    followed = follower.follow(job["job_id"], "away.wav")
    conn, _ = away.accept()  # the follower's first try reached a server that is not there: cut
    conn.close()
    # the app then serves on that same listening socket: closed and bound again, its port could be taken in between
    # as another connection's local port (a full run's "Address already in use")
    srv = make_server("127.0.0.1", port, app, threaded=True, fd=away.detach())
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        assert followed.done.wait(60)
        assert followed.record is not None and followed.record["state"] == "succeeded", followed.error
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_jobs_time_is_how_long_it_ran_on_the_server():
    """A resumed batch printed "succeeded (0.0 s)" for jobs an earlier run had started: the time it followed them."""
    from music_analyzer_client.ui import ran_seconds

    record = {"started_at": "2026-12-02T08:00:00.000+00:00", "finished_at": "2026-12-02T08:01:02.500+00:00"}
    assert ran_seconds(record) == 62.5
    assert ran_seconds({"started_at": None, "finished_at": None}) is None and ran_seconds({}) is None


def test_a_programmers_slips_get_errors_that_say_what_was_meant(ma, tmp_path):
    """A stranger's script: `jobs(states="failed")` was sent letter by letter ("unknown state(s) a, d, e, f, i,
    l"), `start_job("pitchh", ...)` got Flask's "The requested URL was not found on the server. If you entered the
    URL manually..." and `job("../../x")` "the request could not be parsed"."""
    sid = ma.create_session()
    ma.upload(sid, write(tmp_path / "t.wav", sine(330, 0.5)))
    done = ma.wait(ma.start_job("features", sid, file="t.wav")["job_id"])
    assert done["state"] == "succeeded"
    listed = [j["job_id"] for j in ma.jobs(session_id=sid, states="succeeded", types="features")]
    assert listed == [done["job_id"]]
    assert [j["job_id"] for j in ma.jobs(session_id=sid, states="failed,canceled")] == []
    with pytest.raises(MusicAnalyzerError) as typo:
        ma.start_job("pitchh", sid, file="t.wav")
    assert typo.value.status == 404 and typo.value.message.startswith("no job type 'pitchh': POST /process/")
    assert "features, gemma_3n" in typo.value.message and "pitch" in typo.value.message
    with pytest.raises(MusicAnalyzerError) as dotted:
        ma.job("../../x")
    assert dotted.value.code == "invalid_job_id" and "is not a job id" in dotted.value.message


def test_a_known_job_type_without_a_session_id_is_told_the_session_id_is_missing(client):
    """`POST /process/pitch/` (an empty session id in a script's URL) had read "no job type 'pitch'"."""
    answer = client.post("/process/pitch/", json={"file": "t.wav"})
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["message"] == ("no session id: POST /process/pitch/<session_id> names the session "
                                                 "whose files it analyses")
    typo = client.post("/process/pitchh/abc", json={}).json()["error"]["message"]
    assert typo.startswith("no job type 'pitchh'")

