"""USER_STORAGE_MB over real HTTP: an ordinary user's uploads and jobs are refused (507 `storage_quota_exceeded`)
once their sessions would hold more, before anything is stored or queued; an admin's own data has no quota;
deleting a session makes room again. GET /sessions and the CLI's `sessions` say what is used."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from disk_space import MB
from tests.audio_synth import sine, write
from tests.conftest import OTHER, OTHER_PASSWORD
from tests.contract import assert_answer
from tests.test_api_sessions import upload
from tests.test_cli import cli_env, ma


@pytest.fixture()
def quota(app) -> Iterator[Callable[[int], None]]:
    """Set USER_STORAGE_MB (in bytes) of the session-wide app for one test; restored after it."""
    before = app.config["USER_STORAGE_MB"]

    def set_bytes(n: int) -> None:
        app.config["USER_STORAGE_MB"] = n / MB

    yield set_bytes
    app.config["USER_STORAGE_MB"] = before


def storage(client) -> dict:
    r = client.get("/sessions", params={"limit": 1})
    assert r.status_code == 200, r.text
    return r.json()["storage"]


def assert_quota_answer(r, app) -> None:
    assert r.status_code == 507, r.text
    error = r.json()["error"]
    assert error["code"] == "storage_quota_exceeded" and "storage quota" in error["message"], error
    assert app.config["DATA_DIR"] not in error["message"] and "/" not in error["message"], error


def test_uploads_and_jobs_stop_at_the_quota_and_resume_after_a_delete(app, quota, other_client, admin_client,
                                                                    audio_dir):
    from api.openapi.build import spec_for

    spec = spec_for(app)
    big = write(audio_dir / "quota-big.wav", sine(330, 3.0))
    small = write(audio_dir / "quota-small.wav", sine(330, 0.5))
    start = storage(other_client)
    assert start["quota_bytes"] is None and start["used_bytes"] >= 0  # no quota unless configured

    quota(start["used_bytes"] + big.stat().st_size // 2)
    held = storage(other_client)
    assert_answer(spec, "GET", "/sessions", 200, other_client.get("/sessions").json())
    assert held["used_bytes"] == start["used_bytes"] and abs(held["quota_bytes"] - (start["used_bytes"] +
                                                                                   big.stat().st_size // 2)) <= 1
    sid = f"quota-{uuid.uuid4().hex[:8]}"
    refused = upload(other_client, sid, big)
    assert_quota_answer(refused, app)
    assert_answer(spec, "POST", "/sessions/{session_id}/files", refused.status_code, refused.json())
    assert other_client.get(f"/sessions/{sid}").status_code == 404  # nothing stored, no session made
    assert storage(other_client)["used_bytes"] == start["used_bytes"]

    assert upload(other_client, sid, small).status_code == 201  # what fits is taken
    used = storage(other_client)["used_bytes"]
    assert used > start["used_bytes"] + small.stat().st_size // 2

    quota(used)  # full: no new job writes results
    job = other_client.post(f"/process/features/{sid}", json={"file": small.name})
    assert_quota_answer(job, app)
    assert_answer(spec, "POST", "/process/features/{session_id}", job.status_code, job.json())
    assert other_client.get("/jobs", params={"session_id": sid}).json()["jobs"] == []
    # an admin uploading into the user's session fills the user's quota too
    with open(small, "rb") as fh:
        for_user = admin_client.post(f"/sessions/{sid}/files", params={"owner": OTHER},
                                     files=[("file", (small.name, fh))])
    assert_quota_answer(for_user, app)
    # the admin's own data has none
    own = f"quota-admin-{uuid.uuid4().hex[:8]}"
    assert upload(admin_client, own, big).status_code == 201
    assert storage(admin_client)["quota_bytes"] is None
    assert admin_client.delete(f"/sessions/{own}").status_code == 200

    assert other_client.delete(f"/sessions/{sid}").status_code == 200
    assert storage(other_client)["used_bytes"] == start["used_bytes"]
    # folders take blocks too (as du counts them): empty sessions are not free
    assert other_client.post("/sessions", json={"session_id": sid}).status_code == 201
    assert storage(other_client)["used_bytes"] > start["used_bytes"]
    assert other_client.delete(f"/sessions/{sid}").status_code == 200
    # room for the upload and for what the job will write (its estimate is counted before it starts: ~0.65 MB)
    quota(start["used_bytes"] + 2 * big.stat().st_size + MB)
    again = upload(other_client, sid, big)
    assert again.status_code == 201, again.text
    job = other_client.post(f"/process/features/{sid}", json={"file": big.name})
    assert job.status_code == 202, job.text
    assert other_client.wait_job(job.json()["job_id"])["state"] == "succeeded"
    assert other_client.delete(f"/sessions/{sid}").status_code == 200


def test_the_cli_lists_what_the_sessions_hold(app, quota, server, celery_worker, tmp_path, client):
    env = cli_env(server, tmp_path)
    plain = ma(env, "sessions")
    assert plain.returncode == 0 and "(no storage quota)" in plain.stderr + plain.stdout, plain.stderr
    used = storage(client)["used_bytes"]
    quota(4 * used + 1024**3)
    listed = ma(env, "sessions")
    assert "storage quota" in listed.stderr + listed.stdout and "GB" in listed.stderr + listed.stdout, listed.stderr


@pytest.mark.needs_chromium
def test_the_page_shows_a_quota_nearly_used(app, quota, browser, server, other_client, audio_dir):
    sid = f"quota-page-{uuid.uuid4().hex[:8]}"
    assert upload(other_client, sid, write(audio_dir / "quota-page.wav", sine(330, 1.0))).status_code == 201
    quota(storage(other_client)["used_bytes"])  # full
    context = browser.new_context(http_credentials={"username": OTHER, "password": OTHER_PASSWORD})
    try:
        page = context.new_page()
        page.goto(server + "/")
        line = page.locator("#storage-use")
        line.wait_for(timeout=15000)
        assert "storage quota (100%): delete sessions" in line.inner_text()
        assert "near-quota" in (line.get_attribute("class") or "")
    finally:
        context.close()
        other_client.delete(f"/sessions/{sid}")


def test_a_file_with_two_names_counts_once(tmp_path):
    """As du counts it: a re-run keeps the results it replaces as hidden hard links until it ends (worker/files.py);
    counted twice, a re-run of a large separation read as twice its stems against the quota."""
    import os

    from storage import SessionRoot

    store = SessionRoot(tmp_path).of("someone")
    store.create("0123456789abcdef")
    results = store.results_dir("0123456789abcdef")
    results.mkdir(parents=True, exist_ok=True)
    before = store.used_bytes()
    (results / "stems.wav").write_bytes(b"\1" * 4 * MB)
    one = store.used_bytes()
    assert one - before >= 4 * MB
    os.link(results / "stems.wav", results / ".stems.wav.abcd.earlier")
    assert store.used_bytes() == one
    (results / "other.wav").write_bytes(b"\1" * 4 * MB)
    assert store.used_bytes() - one >= 4 * MB
