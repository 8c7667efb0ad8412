"""`music-analyzer batch DIR` as a real subprocess against the live test service: a failed file among good ones,
--resume after a run that ended or was stopped; and `health` against a server whose Redis is down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
