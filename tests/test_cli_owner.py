"""`--owner USER` on the command line: an admin works on another user's sessions, jobs and results, as the API's
`?owner=` lets them (the CLI had no way to: its admin saw everyone's jobs mixed and could not list, analyse in or
download a user's session by name)."""

from __future__ import annotations

import json
import uuid

from music_analyzer_client import MusicAnalyzer

from tests.audio_synth import sine, write
from tests.conftest import ADMIN, ADMIN_PASSWORD, OTHER, OTHER_PASSWORD, USER
from tests.test_api_sessions import upload
from tests.test_cli import cli_env, ma


def test_an_admin_works_on_a_users_data_with_owner(server, celery_worker, tmp_path, client, other_client):
    solo = f"solo-{uuid.uuid4().hex[:8]}"
    upload(other_client, solo, write(tmp_path / "t.wav", sine(330, 0.5)))
    upload(client, f"mine-{uuid.uuid4().hex[:8]}", tmp_path / "t.wav")  # the tester's: never in the listings below
    admin = {**cli_env(server, tmp_path), "MA_USER": ADMIN, "MA_PASSWORD": ADMIN_PASSWORD}

    # analyse in the user's session: the job is theirs, in that session (without --owner it is refused)
    done = ma(admin, "--owner", OTHER, "analyze", "t.wav", "--session", solo, "--features", "--wait",
              cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (job,) = other_client.get("/jobs", params={"session_id": solo}).json()["jobs"]
    assert job["owner"] == OTHER and job["state"] == "succeeded"
    refused = ma(admin, "analyze", "t.wav", "--session", solo, "--features", cwd=tmp_path)
    assert refused.returncode == 2 and f"--owner {OTHER}" in refused.stderr, refused.stderr

    # the user's sessions and jobs alone, and their results downloaded by session name
    sessions = ma(admin, "--json", "--owner", OTHER, "sessions")
    assert sessions.returncode == 0, sessions.stderr
    listed = json.loads(sessions.stdout)
    assert solo in [s["session_id"] for s in listed] and {s["owner"] for s in listed} == {OTHER}
    jobs = json.loads(ma(admin, "--json", "jobs", "--owner", OTHER, "--all").stdout)
    assert job["job_id"] in [j["job_id"] for j in jobs] and {j["owner"] for j in jobs} == {OTHER}
    got = ma(admin, "download", solo, "--owner", OTHER, "--out", str(tmp_path / "got"))
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "got" / "features_t.json").is_file()

    # in Python, the same
    as_admin = MusicAnalyzer(server, ADMIN, ADMIN_PASSWORD, owner=OTHER)
    assert {s.get("owner") for s in as_admin.sessions()} == {OTHER}

    # anyone else naming another user: the server's 404, one line, nothing listed
    user = cli_env(server, tmp_path)
    for who, env in ((USER, user), (OTHER, {**user, "MA_USER": OTHER, "MA_PASSWORD": OTHER_PASSWORD})):
        other = USER if who == OTHER else OTHER
        denied = ma(env, "--owner", other, "sessions")
        assert denied.returncode == 1 and "owner_not_found" in denied.stderr, denied.stderr
        assert solo not in denied.stdout
