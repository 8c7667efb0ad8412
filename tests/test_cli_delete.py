"""`music-analyzer delete`: a session, or files of it, from the command line (neither the CLI nor the page could
delete anything, while the storage-quota note told users to delete sessions)."""

from __future__ import annotations

import json
import uuid

from tests.audio_synth import sine, write
from tests.test_api_sessions import upload
from tests.test_cli import cli_env, ma


def test_delete_files_results_and_a_whole_session(server, celery_worker, client, other_client, tmp_path):
    env = cli_env(server, tmp_path)
    sid = f"del-{uuid.uuid4().hex[:8]}"
    for name in ("a.wav", "b.wav"):
        upload(client, sid, write(tmp_path / name, sine(330, 0.5)))
    job = client.post(f"/process/features/{sid}", json={"file": "b.wav", "picture": False}).json()
    assert client.wait_job(job["job_id"])["state"] == "succeeded"

    gone = ma(env, "delete", sid, "a.wav")
    assert gone.returncode == 0 and f"{sid}/uploads/a.wav: deleted" in gone.stderr, gone.stderr
    result = ma(env, "--json", "delete", sid, "features_b.json", "--results")
    assert result.returncode == 0 and json.loads(result.stdout)[0]["area"] == "results", result.stdout
    session = client.get(f"/sessions/{sid}").json()
    assert [f["name"] for f in session["files"]] == ["b.wav"]
    assert "features_b.json" not in [r["name"] for r in session["results"]]
    missing = ma(env, "delete", sid, "nope.wav")
    assert missing.returncode == 1 and "nope.wav: " in missing.stderr

    # a whole session: asked about on a terminal; with no terminal, --yes or nothing happens
    unasked = ma(env, "delete", sid)
    assert unasked.returncode == 2 and "needs --yes" in unasked.stderr and "1 uploads" in unasked.stderr
    assert client.get(f"/sessions/{sid}").status_code == 200
    # another user's session is not theirs to delete: the server's 404, nothing deleted
    theirs = f"theirs-{uuid.uuid4().hex[:8]}"
    upload(other_client, theirs, tmp_path / "a.wav")
    assert ma(env, "delete", theirs, "--yes").returncode == 1
    assert other_client.get(f"/sessions/{theirs}").status_code == 200
    done = ma(env, "delete", sid, "--yes")
    assert done.returncode == 0 and f"session {sid} deleted" in done.stderr, done.stderr
    assert client.get(f"/sessions/{sid}").status_code == 404


def test_json_of_the_per_item_commands_is_a_list_each_refusal_the_error_object_of_every_command(
        server, celery_worker, client, tmp_path):
    """`cancel` and `delete SESSION FILE...` act on each item in turn: with --json one list, an item's answer or, for
    a refused item, its key beside the `error` object any command prints (README "Command line"); an error that ends
    the command (no server) is that object alone."""
    env = cli_env(server, tmp_path)
    sid = f"json-{uuid.uuid4().hex[:8]}"
    upload(client, sid, write(tmp_path / "a.wav", sine(330, 0.5)))
    job_id = client.post(f"/process/features/{sid}", json={"file": "a.wav", "picture": False}).json()["job_id"]
    assert client.wait_job(job_id)["state"] == "succeeded"
    error_keys = {"code", "message", "status", "request_id"}

    canceled = ma(env, "--json", "cancel", job_id, "0123456789abcdef")
    assert canceled.returncode == 1, canceled.stderr
    listed = json.loads(canceled.stdout)
    assert [(e["job_id"], e["error"]["status"]) for e in listed] == [(job_id, 409), ("0123456789abcdef", 404)]
    assert all(set(e["error"]) >= error_keys for e in listed), listed
    deleted = json.loads(ma(env, "--json", "delete", sid, "a.wav", "nope.wav").stdout)
    assert [(e["name"], "error" in e) for e in deleted] == [("a.wav", False), ("nope.wav", True)], deleted
    assert set(deleted[1]["error"]) >= error_keys
    gone = ma({**env, "MA_URL": "http://127.0.0.1:9"}, "--json", "cancel", job_id)
    assert gone.returncode == 3 and set(json.loads(gone.stdout)) == {"error"}, gone.stdout


def test_a_delete_refused_for_running_jobs_names_the_command_that_cancels_them(app, settings, server, client,
                                                                               tmp_path):
    """"session 's' has 1 queued or running job(s); cancel them first" named none of them (the server lists them in
    `details.jobs`): a stranger had to find them with `jobs --session`. Now the cancel command follows, with the
    ids."""
    from tests.conftest import USER, queued_record

    env = cli_env(server, tmp_path)
    sid = f"busy-{uuid.uuid4().hex[:8]}"
    upload(client, sid, write(tmp_path / "a.wav", sine(330, 0.5)))
    job = queued_record(app, owner=USER, job_type="features", session_id=sid, queue=settings["CPU_QUEUE"],
                        task="music_analyzer.features", params={"files": ["a.wav"], "batch": False, "options": {}})
    try:
        for args in (("delete", sid, "--yes"), ("delete", sid, "a.wav")):
            refused = ma(env, *args)
            said = " ".join(refused.stderr.split())
            assert refused.returncode == 1 and f"`music-analyzer cancel {job['job_id']}`" in said, said
    finally:
        assert client.delete(f"/jobs/{job['job_id']}").status_code == 202
    assert ma(env, "delete", sid, "--yes").returncode == 0
