"""`analyze --stems --lyrics`: the transcript of the vocal stem waits for the stems of the same run (with
--wait); a job the server refuses for a file is that file's error, reported beside the jobs already started."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.test_cli import cli_env, ma, song


@pytest.fixture()
def env(server, celery_worker, tmp_path) -> dict[str, str]:
    return cli_env(server, tmp_path)


@pytest.mark.needs_espeak
def test_lyrics_wait_for_the_stems_of_the_same_run(env, tmp_path):
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

    # without --wait nothing waits: in a new session the lyrics job is refused (nothing can separate first), and
    # that is the file's error, with the stems job it started reported
    alone = ma(env, "--json", "analyze", "sung.wav", "--stems", "--model", "repet", "--lyrics", cwd=tmp_path)
    assert alone.returncode == 1, alone.stderr
    [file] = json.loads(alone.stdout)["files"]
    assert file["error"]["code"] == "model_not_downloaded" and file["error"]["status"] == 409, file
    assert [j["analysis"] for j in file["jobs"]] == ["stems"] and file["jobs"][0]["job_id"]
    assert "in this command: add --wait" in alone.stderr, alone.stderr  # the way out, in the CLI's own terms
    # hpss makes no vocal stem: refused before anything is sent (it had been found out once the stems were made)
    hpss = ma(env, "analyze", "sung.wav", "--stems", "--model", "hpss", "--lyrics", "--wait", cwd=tmp_path)
    assert hpss.returncode == 2 and "hpss makes none" in hpss.stderr and "--model repet" in hpss.stderr, hpss.stderr
    assert "session" not in hpss.stderr and "uploaded" not in hpss.stderr


def test_a_run_whose_every_job_is_refused_leaves_no_session(env, tmp_path, client):
    """`analyze --stems` where the server has no htdemucs weights: the upload went in, the job was refused (409),
    and each try left a session holding the file and no job (a stranger's). The session the run made goes."""
    song(tmp_path / "t.wav", bars=2)
    done = ma(env, "--json", "analyze", "t.wav", "--stems", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    [file] = report["files"]
    assert file["error"]["code"] == "model_not_downloaded" and file["jobs"] == [], file
    assert report["session_deleted"] is True
    assert client.get(f"/sessions/{report['session_id']}").status_code == 404
    named = ma(env, "--json", "analyze", "t.wav", "--stems", "--session", f"keep-{tmp_path.name[-8:]}", cwd=tmp_path)
    assert named.returncode == 1 and json.loads(named.stdout)["session_deleted"] is False  # a session named: kept


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
