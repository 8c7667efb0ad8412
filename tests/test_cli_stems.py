"""`analyze --stems --lyrics`: the transcript of the vocal stem waits for the stems of the same run (with
--wait); a job the server refuses for a file is that file's error, reported beside the jobs already started."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
import requests
from werkzeug.wrappers import Request, Response

from tests.conftest import ADMIN, ADMIN_PASSWORD, USER, serving
from tests.test_cli import cli_env, ma, song


@pytest.fixture()
def env(server, celery_worker, tmp_path) -> dict[str, str]:
    return cli_env(server, tmp_path)


def finish_jobs_of(client, session: str) -> None:
    """Wait for the jobs a test started without --wait (on the session's shared worker, one job at a time): left
    running, they were the next test's backlog, which a `Prefer: wait=60` answer or a 30 s probe had to fit in."""
    for job in client.get("/jobs", params={"session_id": session, "limit": 1000}).json()["jobs"]:
        assert client.wait_job(job["job_id"], timeout=600)["state"] == "succeeded", job


@pytest.mark.needs_espeak
def test_lyrics_wait_for_the_stems_of_the_same_run(env, tmp_path, client):
    """A stranger's `--stems --model repet --lyrics --wait`: the lyrics job was started beside the separation and
    refused (409: no htdemucs weights to separate it first), the run ended on that error and the stems job went
    on unsaid. Now it starts once the stems are there, and transcribes them."""
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(tmp_path / "sung.wav"), "Hello from the stems."],
                   check=True)
    done = ma(env, "--json", "analyze", "sung.wav", "--stems", "--model", "repet", "--lyrics", "--wait",
              cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [file] = json.loads(done.stdout)["files"]
    jobs = {j["analysis"]: j for j in file["jobs"]}
    assert {name: j["state"] for name, j in jobs.items()} == {"stems": "succeeded", "lyrics": "succeeded"}, jobs
    assert jobs["lyrics"]["result"]["source"] == "vocals"

    # without --wait nothing waits: in a new session the lyrics job would be refused (nothing can separate first,
    # the server's listing says): refused before anything is sent, with the way out in the CLI's own terms
    alone = ma(env, "analyze", "sung.wav", "--stems", "--model", "repet", "--lyrics", cwd=tmp_path)
    assert alone.returncode == 1, alone.stderr
    assert "in this command: add --wait" in alone.stderr and "nothing was uploaded" in alone.stderr, alone.stderr
    assert "model_not_downloaded" in alone.stderr and "session" not in alone.stderr, alone.stderr
    # in a session that holds the file already, the server decides (it may have the vocal stem): its 409 is the
    # file's error, with the stems job it started reported
    named = f"lyr-{tmp_path.name[-8:]}"
    assert ma(env, "analyze", "sung.wav", "--features", "--session", named, cwd=tmp_path).returncode == 0
    held = ma(env, "--json", "analyze", "sung.wav", "--stems", "--model", "repet", "--lyrics", "--session", named,
              cwd=tmp_path)
    assert held.returncode == 1, held.stderr
    [file] = json.loads(held.stdout)["files"]
    assert file["error"]["code"] == "model_not_downloaded" and file["error"]["status"] == 409, file
    assert [j["analysis"] for j in file["jobs"]] == ["stems"] and file["jobs"][0]["job_id"]
    assert "in this command: add --wait" in held.stderr, held.stderr
    # hpss makes no vocal stem: refused before anything is sent (it had been found out once the stems were made)
    hpss = ma(env, "analyze", "sung.wav", "--stems", "--model", "hpss", "--lyrics", "--wait", cwd=tmp_path)
    assert hpss.returncode == 2 and "hpss makes none" in hpss.stderr and "--model repet" in hpss.stderr, hpss.stderr
    assert "session" not in hpss.stderr and "uploaded" not in hpss.stderr
    finish_jobs_of(client, named)  # the features and stems jobs started without --wait


def test_stems_with_a_model_the_server_cannot_run_send_nothing(env, tmp_path, client):
    """`analyze --stems` where the server has no htdemucs weights: the whole file was uploaded (minutes for a
    stranger's 500 MB recording), then the separation job was refused (409, exit 1). The CLI asks the server's
    GET /separation/models first: the same refusal and exit code, with the models it can run, and no session
    made, no byte of audio sent; a file the named session holds already is refused before any job too."""
    song(tmp_path / "t.wav", bars=2)
    sessions_before = {s["session_id"] for s in client.get("/sessions", params={"limit": 1000}).json()["sessions"]}
    done = ma(env, "--json", "analyze", "t.wav", "--features", "--stems", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "model_not_downloaded", error
    assert "'htdemucs' are not present" in error["message"] and "nothing was uploaded" in error["message"], error
    # what it can run: hpss and repet, and any weights other tests of this run put in the shared MODELS_DIR (a
    # whole run's tiny_htdemucs had failed the list's exact words)
    runnable = error["details"]["runnable"]
    assert {"hpss", "repet"} <= set(runnable) and "htdemucs" not in runnable, error
    assert f"it can run {', '.join(runnable)}: use --model hpss or --model repet (no weights needed)" \
        in error["message"], error
    sessions_after = {s["session_id"] for s in client.get("/sessions", params={"limit": 1000}).json()["sessions"]}
    assert sessions_after == sessions_before  # no session made: nothing was uploaded
    # a named session that does not exist yet is not made either; words on stderr without --json
    named = f"keep-{tmp_path.name[-8:]}"
    words = ma(env, "analyze", "t.wav", "--stems", "--model", "htdemucs_ft", "--session", named, cwd=tmp_path)
    assert words.returncode == 1 and "'htdemucs_ft' are not present" in words.stderr, words.stderr
    assert "uploaded t.wav" not in words.stderr and client.get(f"/sessions/{named}").status_code == 404
    # the file already in the session (not sent again) gets no job: the check comes first
    assert ma(env, "analyze", "t.wav", "--features", "--session", named, cwd=tmp_path).returncode == 0
    again = ma(env, "--json", "analyze", "t.wav", "--features", "--stems", "--session", named, cwd=tmp_path)
    assert again.returncode == 1 and json.loads(again.stdout)["error"]["code"] == "model_not_downloaded"
    jobs = client.get("/jobs", params={"session_id": named}).json()["jobs"]
    assert [j["type"] for j in jobs] == ["features"], jobs  # the first run's only
    # an admin's --owner adds `owner` to every request, the listing's too: it is taken there, and the check holds
    admin = ma({**env, "MA_USER": ADMIN, "MA_PASSWORD": ADMIN_PASSWORD}, "analyze", "t.wav", "--stems", "--owner",
               USER, "--session", named, cwd=tmp_path)
    assert admin.returncode == 1 and "nothing was uploaded" in admin.stderr, admin.stderr
    # --lyrics alone in a new session: its vocal stem needs htdemucs first (the server's VOCALS_SEPARATION_MODEL)
    lyrics = ma(env, "--json", "analyze", "t.wav", "--features", "--lyrics", cwd=tmp_path)
    assert lyrics.returncode == 1, lyrics.stderr
    error = json.loads(lyrics.stdout)["error"]
    assert error["code"] == "model_not_downloaded" and "'htdemucs' (its VOCALS_SEPARATION_MODEL)" in error["message"]
    assert "in this command: add --stems --model repet --wait" in error["message"], error
    assert {s["session_id"] for s in client.get("/sessions", params={"limit": 1000}).json()["sessions"]} \
        == sessions_before | {named}
    # a model it can run goes on as before
    repet = ma(env, "--json", "analyze", "t.wav", "--stems", "--model", "repet", "--session", named, cwd=tmp_path)
    assert repet.returncode == 0, repet.stderr
    finish_jobs_of(client, named)  # the features and stems jobs started without --wait


def test_a_batch_with_a_model_the_server_cannot_run_sends_nothing(env, tmp_path, client):
    """`batch DIR --stems` without htdemucs' weights had uploaded every file of the folder, each then refused."""
    folder = tmp_path / "album"
    folder.mkdir()
    for n in range(2):
        song(folder / f"t{n}.wav", bars=1)
    before = {s["session_id"] for s in client.get("/sessions", params={"limit": 1000}).json()["sessions"]}
    done = ma(env, "batch", str(folder), "--stems", cwd=tmp_path)
    assert done.returncode == 1 and "'htdemucs' are not present" in done.stderr, done.stderr
    assert "nothing was uploaded" in done.stderr and "into session" not in done.stderr, done.stderr
    lyrics = ma(env, "batch", str(folder), "--lyrics", cwd=tmp_path)
    assert lyrics.returncode == 1 and "VOCALS_SEPARATION_MODEL" in lyrics.stderr, lyrics.stderr
    assert {s["session_id"] for s in client.get("/sessions", params={"limit": 1000}).json()["sessions"]} == before


def test_a_resumed_batch_with_no_earlier_run_checks_the_model_first(env, tmp_path, client):
    """`batch DIR --stems --resume` where no earlier run of DIR was recorded starts a new batch: it had skipped the
    model check that the same command without --resume makes, uploaded every file and had each refused 409."""
    folder = tmp_path / "album"
    folder.mkdir()
    song(folder / "t0.wav", bars=1)
    before = {s["session_id"] for s in client.get("/sessions", params={"limit": 1000}).json()["sessions"]}
    done = ma(env, "batch", str(folder), "--stems", "--resume", cwd=tmp_path)
    assert done.returncode == 1 and "'htdemucs' are not present" in done.stderr, done.stderr
    assert "nothing was uploaded" in done.stderr and "into session" not in done.stderr, done.stderr
    assert {s["session_id"] for s in client.get("/sessions", params={"limit": 1000}).json()["sessions"]} == before


def test_stems_format_asks_the_server_for_flac_or_mp3_stems(env, tmp_path, client):
    """A stranger's 10-minute Opus track came back as two 225 MB float WAV stems: the route takes `format` (wav, flac,
    mp3), the CLI had no way to ask for it."""
    song(tmp_path / "t.wav", bars=2)
    done = ma(env, "--json", "analyze", "t.wav", "--stems", "--model", "repet", "--stems-format", "flac", "--wait",
              cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    session = json.loads(done.stdout)["session_id"]
    results = {r["name"] for r in client.get(f"/sessions/{session}").json()["results"]}
    assert results == {"vocals_t.flac", "accompaniment_t.flac"}, results
    stem = client.get(f"/sessions/{session}/files/vocals_t.flac")
    assert stem.status_code == 200 and stem.content[:4] == b"fLaC"
    # refused before anything is sent: no stems asked for, or a format the server does not write
    alone = ma(env, "analyze", "t.wav", "--pitch", "--stems-format", "flac", cwd=tmp_path)
    assert alone.returncode == 2 and "add --stems" in alone.stderr and "uploaded" not in alone.stderr, alone.stderr
    ogg = ma(env, "analyze", "t.wav", "--stems", "--stems-format", "ogg", cwd=tmp_path)
    assert ogg.returncode == 2 and "invalid choice: 'ogg'" in ogg.stderr, ogg.stderr


@pytest.fixture()
def older_server(server) -> Iterator[str]:
    """The test server behind a real HTTP forwarder that answers GET /separation/models 404, as a server from
    before the route does (its error envelope); every other request goes through unchanged."""
    def forward(environ, start_response):
        request = Request(environ)
        if request.path == "/separation/models":
            body = json.dumps({"error": {"code": "not_found", "message": "no such route"}})
            return Response(body, 404, content_type="application/json")(environ, start_response)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = requests.request(request.method, server + request.full_path.rstrip("?"), headers=headers,
                                  data=request.get_data(), timeout=120)
        kept = [(k, v) for k, v in answer.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")]
        return Response(answer.content, answer.status_code, headers=kept)(environ, start_response)

    with serving(forward) as base:
        yield base


def test_a_server_without_the_listing_decides_after_the_upload(older_server, celery_worker, tmp_path):
    """A server from before GET /separation/models (404): the CLI goes on as it did, the upload then the
    server's own 409 for the separation job, and the session it made deleted again."""
    song(tmp_path / "t.wav", bars=1)
    done = ma(cli_env(older_server, tmp_path), "--json", "analyze", "t.wav", "--stems", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    [file] = report["files"]
    assert file["upload"]["name"] == "t.wav" and file["jobs"] == [], file  # uploaded, then refused
    assert file["error"]["code"] == "model_not_downloaded" and file["error"]["status"] == 409, file
    assert report["session_deleted"] is True
