"""`music-analyzer batch DIR` as a real subprocess against the live test service: a failed file among good ones,
--resume after a run that ended or was stopped; and `health` against a server whose Redis is down."""

from __future__ import annotations

import fcntl
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ADMIN, ADMIN_PASSWORD, USER
from tests.test_cli import cli_env, ma, song


@pytest.fixture()
def env(server, celery_worker, tmp_path) -> dict[str, str]:
    return cli_env(server, tmp_path)


def test_batch_reports_the_bad_file_finishes_the_rest_and_resumes(env, tmp_path, client):
    folder = tmp_path / "album"
    folder.mkdir()
    for name in ("a.wav", "b.flac"):
        song(folder / name, bars=2)
    (folder / "broken.mp3").write_bytes(b"ID3 this is not audio at all" * 10)
    (folder / "notes.txt").write_text("not taken: not an audio file name")
    done = ma(env, "batch", str(folder), "--features", "--jobs", "2")
    assert done.returncode == 1, done.stderr  # a file failed
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.split()[:1] in
            (["a.wav"], ["b.flac"], ["broken.mp3"])}
    assert "done" in rows["a.wav"] and "LUFS" in rows["a.wav"] and "done" in rows["b.flac"]
    assert "failed" in rows["broken.mp3"] and "decodable" in rows["broken.mp3"], done.stdout
    assert re.search(r"broken\.mp3.*\(\w+, HTTP 4\d\d, request \w+\)", done.stderr), done.stderr  # code, request id
    assert "notes.txt" not in done.stdout
    assert "2 done, 1 failed" in done.stdout

    song(folder / "c.wav", bars=2)  # a file added since: the resumed run takes it, and only it
    resumed = ma(env, "--json", "batch", str(folder), "--resume")
    assert resumed.returncode == 1, resumed.stderr  # broken.mp3 is tried again and fails again
    report = json.loads(resumed.stdout)
    files = {f["file"]: f for f in report["files"]}
    assert files["a.wav"]["status"] == files["b.flac"]["status"] == "done earlier"
    assert files["c.wav"]["status"] == "done" and files["c.wav"]["jobs"]["features"]["state"] == "succeeded"
    assert files["broken.mp3"]["status"] == "failed"
    assert report["counts"] == {"done": 1, "done earlier": 2, "failed": 1, "canceled": 0, "not reached": 0}
    jobs = client.get("/jobs", params={"session_id": report["session_id"]}).json()["jobs"]
    assert len(jobs) == 3  # a, b and c: the resumed run started no second job for a or b
    assert Path(report["state_file"]).is_relative_to(Path(env["XDG_STATE_HOME"]))


def test_a_resumed_batch_does_not_upload_again_what_a_stopped_run_had_sent(env, tmp_path, client):
    """A stranger's batch killed during uploads, then resumed (five times): the session held battle.ogg,
    battle-1.ogg and battle-2.ogg, the same bytes, and the results were named after the last. The progress file
    here is left as a kill between an upload and its note leaves it (no name, no job)."""
    folder, state_file = tmp_path / "tracks", tmp_path / "batch-state.json"
    folder.mkdir()
    for name in ("a.wav", "b.wav"):
        song(folder / name, bars=2, tonic=2 if name == "a.wav" else 7)
    first = ma(env, "--json", "batch", str(folder), "--features", "--state", str(state_file))
    assert first.returncode == 0, first.stderr
    session_id = json.loads(first.stdout)["session_id"]
    data = json.loads(state_file.read_text())
    for entry in data["files"].values():
        entry.update(name=None, jobs={})
    state_file.write_text(json.dumps(data))
    resumed = ma(env, "--json", "batch", str(folder), "--resume", "--state", str(state_file))
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(f["name"] for f in client.get(f"/sessions/{session_id}").json()["files"]) == ["a.wav", "b.wav"]
    jobs = client.get("/jobs", params={"session_id": session_id}).json()["jobs"]
    assert sorted(j["input_files"][0] for j in jobs) == ["a.wav", "a.wav", "b.wav", "b.wav"]  # run again, same names


def test_health_says_why_a_server_whose_redis_is_down_is_unavailable(settings, private_redis, tmp_path):
    """The CLI printed "the server answered 503 SERVICE UNAVAILABLE (http_error)" where /health's document said
    "the job queue (Redis) is not reachable"; it now prints that, and exits 3 (unavailable)."""
    from tests.conftest import serving
    from tests.test_resilience import make_app

    app = make_app(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    private_redis.stop()
    with serving(app) as base:
        env = cli_env(base, tmp_path)
        done = ma(env, "health")
        assert done.returncode == 3, done.stdout + done.stderr
        assert "unavailable" in done.stdout and "redis     down: the job queue (Redis) is not reachable" in done.stdout
        as_json = ma(env, "--json", "health")
        assert as_json.returncode == 3 and json.loads(as_json.stdout)["redis"]["ok"] is False
        # analyze and batch stop before they make a session or send a file (a stranger's analyze left both)
        song(tmp_path / "t.wav", bars=1)
        before = sorted(p.name for p in (tmp_path / "data").rglob("*") if p.is_file())
        for args in (["analyze", "t.wav", "--features"], ["batch", str(tmp_path), "--features"]):
            done = ma(env, *args, cwd=tmp_path)
            assert done.returncode == 3 and "nothing was uploaded" in done.stderr, done.stderr
        assert sorted(p.name for p in (tmp_path / "data").rglob("*") if p.is_file()) == before


def test_a_run_stopped_between_starting_a_job_and_following_it_is_summarised_on_resume(env, tmp_path, client):
    """The progress file as a stop right after a job was started leaves it (its id, no end: a cached job's
    "succeeded" had been recorded there, without a summary, and --resume printed "done earlier" and an empty
    column). The resumed run follows the job and prints its figures; no second job starts."""
    folder, state_file = tmp_path / "tracks", tmp_path / "batch-state.json"
    folder.mkdir()
    song(folder / "a.wav", bars=2, tonic=4)
    first = ma(env, "--json", "batch", str(folder), "--features", "--state", str(state_file))
    assert first.returncode == 0, first.stderr
    session_id = json.loads(first.stdout)["session_id"]
    data = json.loads(state_file.read_text())
    job = data["files"]["a.wav"]["jobs"]["features"]
    data["files"]["a.wav"]["jobs"]["features"] = {"key": job["key"], "job_id": job["job_id"], "state": None}
    state_file.write_text(json.dumps(data))
    resumed = ma(env, "batch", str(folder), "--resume", "--state", str(state_file))
    assert resumed.returncode == 0, resumed.stderr
    row = next(line for line in resumed.stdout.splitlines() if line.split()[:1] == ["a.wav"])
    assert "LUFS" in row, resumed.stdout
    assert len(client.get("/jobs", params={"session_id": session_id}).json()["jobs"]) == 1


def test_a_refused_or_concurrent_run_leaves_the_progress_file_to_resume(env, tmp_path, client, admin_client):
    """A stranger's `batch --session <bob's>` (and a malformed name) replaced the folder's progress file, then was
    refused, and no --resume could continue the earlier run; two runs at once raced on it, and one recorded
    "cannot read it" against an audio file that no resume cleared. Neither happens now: the named session is
    checked before the file is written, and a second run on the same progress file is refused at once. The
    folder's .aiff and .opus files are taken (they had been passed over without a word), the rest is named."""
    env = {**env, "MA_USER": ADMIN, "MA_PASSWORD": ADMIN_PASSWORD}  # an admin reaches the tester's sessions
    folder, state_file = tmp_path / "set", tmp_path / "set-state.json"
    folder.mkdir()
    song(folder / "a.aiff", bars=2, tonic=2)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(song(tmp_path / "b.wav", bars=2, tonic=7)),
                    "-c:a", "libopus", str(folder / "b.opus")], check=True)
    (folder / "cover.txt").write_text("not audio")
    song(folder / "c d.wav", bars=1, tonic=4)  # stored as c_d.wav: the table says so (it was only in --json)
    first = ma(env, "batch", str(folder), "--features", "--state", str(state_file))
    assert first.returncode == 0, first.stderr
    assert "1 other file(s)" in first.stderr and "--pattern" in first.stderr, first.stderr
    assert "3 done" in first.stdout and "a.aiff" in first.stdout and "b.opus" in first.stdout, first.stdout
    assert "c d.wav → c_d.wav" in first.stdout, first.stdout
    recorded = state_file.read_text()
    session_id = json.loads(recorded)["session_id"]

    theirs = client.post("/sessions").json()["session_id"]
    for session, why in ((theirs, f"is {USER}'s"), ("bad id!", "session")):
        refused = ma(env, "batch", str(folder), "--features", "--session", session, "--state", str(state_file))
        assert refused.returncode == 2 and why in refused.stderr, refused.stderr
        assert state_file.read_text() == recorded, session  # untouched: the earlier run can still be resumed

    lock = state_file.with_name(f".{state_file.name}.lock")
    with open(lock, "a+b") as held:  # another run holds the progress file
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        busy = ma(env, "batch", str(folder), "--resume", "--state", str(state_file))
        assert busy.returncode == 2 and "another batch run is using" in busy.stderr, busy.stderr
    assert state_file.read_text() == recorded

    resumed = ma(env, "--json", "batch", str(folder), "--resume", "--state", str(state_file))
    assert resumed.returncode == 0, resumed.stderr
    assert {f["file"]: f["status"] for f in json.loads(resumed.stdout)["files"]} == {
        "a.aiff": "done earlier", "b.opus": "done earlier", "c d.wav": "done earlier"}
    assert len(admin_client.get("/jobs", params={"session_id": session_id}).json()["jobs"]) == 3


def test_a_batch_takes_a_folders_browser_recordings(env, tmp_path):
    """WebM (what a browser records) and Matroska audio are read by the server now: a folder of them was passed
    over ("no audio files")."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    source = song(tmp_path / "take.wav", bars=2)
    for name in ("take 1.webm", "take 2.mka"):
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(source), "-c:a", "libopus",
                        str(folder / name)], check=True)
    done = ma(env, "--json", "batch", str(folder), "--features", "--state", str(tmp_path / "rec-state.json"))
    assert done.returncode == 0, done.stderr
    assert {f["file"]: f["status"] for f in json.loads(done.stdout)["files"]} == {"take 1.webm": "done",
                                                                                  "take 2.mka": "done"}


def test_a_batch_says_what_its_folders_subfolders_hold(env, tmp_path):
    """An album ripped as CD1/ and CD2/: a stranger's batch of its folder answered "no audio files in DIR", and one
    with a file at the top took that one, both without a word of the others."""
    folder = tmp_path / "album"
    for name in ("CD1/01.flac", "CD2/01.flac", "CD2/bonus/02.flac"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        song(folder / name, bars=2)
    (folder / ".hidden").mkdir()
    song(folder / ".hidden" / "x.wav", bars=2)
    none = ma(env, "batch", str(folder), "--features", "--state", str(tmp_path / "s1.json"))
    assert none.returncode == 2, none.stderr
    assert f"no audio files in {folder}; 3 in its subfolders: --pattern '**/*.flac' takes them" in none.stderr

    song(folder / "intro.wav", bars=2)
    done = ma(env, "batch", str(folder), "--features", "--state", str(tmp_path / "s2.json"))
    assert done.returncode == 0, done.stderr
    assert "intro.wav" in done.stdout and "01.flac" not in done.stdout and "1 done" in done.stdout, done.stdout
    assert (f"3 audio file(s) in subfolders of {folder} are not taken (--pattern '**/*' takes them with these)"
            in done.stderr), done.stderr


def test_a_batch_table_marks_a_key_the_server_doubts(env, tmp_path):
    """A stranger's folder of game sounds: a 0.3 s typewriter click read "G# minor" in the table beside the tracks'
    keys; its JSON said "key uncertain (confidence 0.02)"."""
    import numpy as np
    import soundfile as sf

    folder = tmp_path / "sounds"
    folder.mkdir()
    song(folder / "tune.wav", bars=4)
    t = np.arange(int(0.3 * 22050)) / 22050
    sf.write(folder / "click.wav", (0.2 * sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0)))
             .astype(np.float32), 22050)
    done = ma(env, "batch", str(folder), "--pitch", "--state", str(tmp_path / "s.json"))
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.split()[:1] in (["tune.wav"],
                                                                                               ["click.wav"])}
    assert "C major (uncertain)" in rows["click.wav"], done.stdout
    assert "C major" in rows["tune.wav"] and "uncertain" not in rows["tune.wav"], done.stdout


def test_a_batch_whose_every_upload_is_refused_leaves_no_session(env, tmp_path, client):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "x.mp3").write_bytes(b"")
    done = ma(env, "--json", "batch", str(folder), "--features", "--state", str(tmp_path / "s.json"))
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["files"][0]["status"] == "failed", done.stdout
    assert client.get(f"/sessions/{report['session_id']}").status_code == 404
    assert not (tmp_path / "s.json").exists()


def test_a_second_ctrl_c_while_the_program_exits_prints_no_traceback(tmp_path):
    """`timeout -s INT` (and a terminal) signal the whole process group: a stranger's batch printed its clean
    "interrupted" message, then urllib3's "Exception ignored in atexit callback ... KeyboardInterrupt". An exit
    handler run after the command sends the process a SIGINT, as that second signal would."""
    script = ("import atexit, os, signal, sys\n"
              "from music_analyzer_client.cli import main\n"
              "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), print('exit handler done')))\n"
              "sys.argv = ['music-analyzer', 'health']\n"
              "sys.exit(main())\n")
    with socket.socket() as s:  # a port nothing listens on: the command fails fast, then exits
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = cli_env(f"http://127.0.0.1:{port}", tmp_path)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "cannot reach the server" in done.stderr, done.stderr
    assert "exit handler done" in done.stdout and "KeyboardInterrupt" not in done.stderr, done.stderr


def test_a_batch_of_a_missing_folder_says_there_is_none(env, tmp_path):
    """A mistyped folder had read "not a folder", as if it named a file."""
    (tmp_path / "song.wav").write_bytes(b"")
    missing = ma(env, "batch", str(tmp_path / "albm"))
    assert missing.returncode == 2 and missing.stderr.strip() == f"error: {tmp_path / 'albm'}: no such folder"
    a_file = ma(env, "batch", str(tmp_path / "song.wav"))
    assert a_file.returncode == 2 and a_file.stderr.strip() == f"error: {tmp_path / 'song.wav'}: not a folder"
