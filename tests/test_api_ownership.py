"""Per-user data over real HTTP (RELIABILITY_CASES B1): every session and job has an owner; another user
gets 404 for it, exactly as for something that does not exist; the admin sees and acts on everything."""

from __future__ import annotations

import uuid

import pytest

from tests.audio_synth import sine, write
from tests.conftest import ADMIN, OTHER, USER, queued_record
from tests.test_api_sessions import upload

TONE = "tone3s.wav"


def new_session(client, audio_dir, prefix: str, *, sid: str | None = None, name: str = TONE) -> str:
    """A session of the client's user holding one upload `name`."""
    sid = sid or f"{prefix}-{uuid.uuid4().hex[:8]}"
    r = client.post("/sessions", json={"session_id": sid})
    assert r.status_code == 201, r.text
    assert upload(client, sid, write(audio_dir / name, sine(440, 3.0))).status_code == 201
    return sid


def queued_job(app, settings, *, owner: str, session_id: str) -> str:
    """A job record that stays queued (no message published): a cancel by anyone would take effect."""
    job = queued_record(
        app, owner=owner, job_type="features", session_id=session_id, queue=settings["CPU_QUEUE"],
        task="music_analyzer.features", params={"files": [TONE], "batch": False, "options": {}})
    return job["job_id"]


@pytest.fixture()
def tester_data(client, audio_dir) -> tuple[str, str]:
    """The tester's private session with an upload, and a finished features job on it."""
    sid = new_session(client, audio_dir, "tester-private")
    job = client.post(f"/process/features/{sid}", json={"file": TONE}).json()["job_id"]
    assert client.wait_job(job)["state"] == "succeeded"
    return sid, job


def test_another_user_lists_reads_and_downloads_nothing(client, other_client, tester_data):
    sid, job = tester_data
    listed = other_client.get("/jobs?limit=1000").json()["jobs"]
    assert job not in {j["job_id"] for j in listed} and sid not in {j["session_id"] for j in listed}
    assert other_client.get(f"/jobs?session_id={sid}&limit=1000").json()["jobs"] == []
    absent = other_client.get("/sessions/no-such-session-anywhere").json()["error"]
    r = other_client.get(f"/sessions/{sid}")
    assert r.status_code == 404 and r.json()["error"]["code"] == absent["code"] == "session_not_found"
    for name in (TONE, "features_tone3s.json", "features_tone3s.png"):
        assert other_client.get(f"/sessions/{sid}/files/{name}").status_code == 404
        assert client.get(f"/sessions/{sid}/files/{name}").status_code == 200
    assert other_client.get(f"/jobs/{job}").status_code == 404
    assert other_client.get(f"/jobs/{job}").json()["error"]["code"] == "job_not_found"
    mine = client.get(f"/sessions/{sid}").json()
    assert mine["owner"] == USER and [j["job_id"] for j in mine["jobs"]] == [job]
    assert client.get(f"/jobs/{job}").json()["owner"] == USER
    assert job in {j["job_id"] for j in client.get("/jobs?limit=1000").json()["jobs"]}


def test_another_user_cannot_cancel_delete_or_process(app, settings, client, other_client, tester_data):
    sid, finished = tester_data
    queued = queued_job(app, settings, owner=USER, session_id=sid)
    assert other_client.delete(f"/jobs/{queued}").status_code == 404
    assert other_client.delete(f"/jobs/{finished}").status_code == 404  # not 409, which would say it exists
    assert other_client.delete(f"/sessions/{sid}").status_code == 404
    for kind, body in (("features", {"file": TONE}), ("features", {}), ("pitch", {"file": TONE}),
                       ("demucs", {"file": TONE, "model": "hpss"}), ("whisper", {"file": TONE}),
                       ("gemma_3n", {"file": TONE, "model_variant": "smollm2-135m"}),
                       ("musicgen", {"prompt": "a drum loop", "model": "musicgen-melody", "melody_file": TONE})):
        r = other_client.post(f"/process/{kind}/{sid}", json=body)
        assert r.status_code == 404, (kind, r.text)
    mine = client.get(f"/sessions/{sid}").json()
    assert {j["job_id"] for j in mine["jobs"]} == {finished, queued}  # no job was created by the others
    assert client.get(f"/jobs/{queued}").json()["state"] == "queued"
    assert client.delete(f"/jobs/{queued}").json()["state"] == "canceled"
    assert client.delete(f"/sessions/{sid}").status_code == 200


def test_a_taken_id_neither_reveals_nor_blocks(client, other_client, tester_data, audio_dir):
    """POST /sessions and uploads with an id another user holds answer exactly as for a free id, and the two
    sessions stay apart."""
    sid, _ = tester_data
    free = other_client.post("/sessions", json={"session_id": f"free-{uuid.uuid4().hex[:8]}"})
    taken = other_client.post("/sessions", json={"session_id": sid})
    assert (taken.status_code, set(taken.json())) == (free.status_code, set(free.json())) == (201, {"session_id"})
    assert other_client.get(f"/sessions/{sid}").json()["files"] == []
    assert upload(other_client, sid, write(audio_dir / "theirs.wav", sine(220, 1.0))).status_code == 201
    assert [f["name"] for f in other_client.get(f"/sessions/{sid}").json()["files"]] == ["theirs.wav"]
    assert [f["name"] for f in client.get(f"/sessions/{sid}").json()["files"]] == [TONE]
    assert other_client.get(f"/sessions/{sid}/files/{TONE}").status_code == 404
    assert client.get(f"/sessions/{sid}/files/theirs.wav").status_code == 404
    assert client.post("/sessions", json={"session_id": sid}).status_code == 409  # one's own ids still conflict
    assert other_client.delete(f"/sessions/{sid}").status_code == 200
    assert [f["name"] for f in client.get(f"/sessions/{sid}").json()["files"]] == [TONE]


def test_upload_to_a_new_id_taken_elsewhere_creates_ones_own(client, other_client, tester_data, audio_dir):
    sid, _ = tester_data
    assert upload(other_client, sid, write(audio_dir / "x.wav", sine(330, 0.5))).status_code == 201
    assert [f["name"] for f in client.get(f"/sessions/{sid}").json()["files"]] == [TONE]
    assert other_client.get(f"/sessions/{sid}").json()["owner"] == OTHER


def test_probe_and_model_jobs_belong_to_their_caller(client, other_client, admin_client):
    probe = client.post("/jobs/probe", json={"queue": "cpu", "wait": 30}).json()
    assert probe["ok"], probe
    unload = client.post("/api/v2/models/unload", json={"wait": 0})
    assert unload.status_code == 202, unload.text
    for job_id in (probe["job_id"], unload.json()["job_id"]):
        assert client.get(f"/jobs/{job_id}").json()["owner"] == USER
        assert other_client.get(f"/jobs/{job_id}").status_code == 404
        assert other_client.delete(f"/jobs/{job_id}").status_code == 404
        assert admin_client.get(f"/jobs/{job_id}").json()["owner"] == USER
    client.wait_job(unload.json()["job_id"])
    theirs = {j["job_id"] for j in other_client.get("/jobs?limit=1000").json()["jobs"]}
    assert not theirs & {probe["job_id"], unload.json()["job_id"]}


def test_admin_sees_and_acts_on_everything(app, settings, client, other_client, admin_client, audio_dir):
    sid = new_session(client, audio_dir, "seen-by-admin")
    theirs = other_client.post("/jobs/probe", json={"queue": "cpu", "wait": 30}).json()["job_id"]
    queued = queued_job(app, settings, owner=USER, session_id=sid)
    listed = {j["job_id"]: j["owner"] for j in admin_client.get("/jobs?limit=1000").json()["jobs"]}
    assert listed[theirs] == OTHER and listed[queued] == USER
    assert [j["job_id"] for j in admin_client.get(f"/jobs?session_id={sid}").json()["jobs"]] == [queued]
    seen = admin_client.get(f"/sessions/{sid}").json()
    assert seen["owner"] == USER and [f["name"] for f in seen["files"]] == [TONE]
    assert admin_client.get(f"/sessions/{sid}/files/{TONE}").status_code == 200
    # acting on it: a job on the tester's session is the tester's (its results land in that session)
    job = admin_client.post(f"/process/features/{sid}", json={"file": TONE}).json()["job_id"]
    assert admin_client.wait_job(job)["state"] == "succeeded"
    assert client.get(f"/jobs/{job}").json()["owner"] == USER
    assert client.get(f"/sessions/{sid}/files/features_tone3s.json").status_code == 200
    assert admin_client.delete(f"/jobs/{queued}").json()["state"] == "canceled"
    assert admin_client.delete(f"/sessions/{sid}").status_code == 200
    assert client.get(f"/sessions/{sid}").status_code == 404


def test_admin_picks_among_owners_of_one_id(client, other_client, admin_client, audio_dir):
    """Ids are per owner: when several users hold one, the admin names the owner (`?owner=`)."""
    sid = new_session(client, audio_dir, "twice", name="t.wav")
    new_session(other_client, audio_dir, "twice", sid=sid, name="o.wav")
    r = admin_client.get(f"/sessions/{sid}")
    assert r.status_code == 409 and r.json()["error"]["code"] == "ambiguous_session"
    assert r.json()["error"]["details"]["owners"] == sorted([USER, OTHER])
    assert [f["name"] for f in admin_client.get(f"/sessions/{sid}?owner={OTHER}").json()["files"]] == ["o.wav"]
    assert [f["name"] for f in admin_client.get(f"/sessions/{sid}?owner={USER}").json()["files"]] == ["t.wav"]
    assert admin_client.get(f"/sessions/{sid}/files/o.wav?owner={OTHER}").status_code == 200
    # the admin's own session of that id comes first; ordinary users cannot name another owner
    assert admin_client.post("/sessions", json={"session_id": sid}).status_code == 201
    assert admin_client.get(f"/sessions/{sid}").json()["owner"] == ADMIN
    assert client.get(f"/sessions/{sid}?owner={OTHER}").status_code == 404
    assert client.get(f"/sessions/{sid}?owner={USER}").json()["owner"] == USER


def test_an_admins_upload_never_lands_in_another_users_session(client, other_client, admin_client, audio_dir):
    """A security trial: the tester made session "demo"; the admin's upload to "demo" went into it (the tester then
    downloaded the admin's file, and the admin's job on it was the tester's). It makes the admin's own now; an
    upload into another user's session names them with `?owner=`."""
    sid = new_session(client, audio_dir, "theirs", name="t.wav")
    # the tone this test wrote itself: tone3s.wav is another test's, which this process may not have run (one CI run)
    with open(audio_dir / "t.wav", "rb") as f:
        r = admin_client.post(f"/sessions/{sid}/files", files={"file": ("private.wav", f, "audio/wav")})
    assert r.status_code == 201, r.text
    assert [f["name"] for f in client.get(f"/sessions/{sid}").json()["files"]] == ["t.wav"]
    assert client.get(f"/sessions/{sid}/files/private.wav").status_code == 404
    mine = admin_client.get(f"/sessions/{sid}").json()  # the admin's own session of that id comes first
    assert mine["owner"] == ADMIN and [f["name"] for f in mine["files"]] == ["private.wav"]
    job = admin_client.post(f"/process/features/{sid}", json={"file": "private.wav"}).json()["job_id"]
    assert admin_client.wait_job(job)["state"] == "succeeded"
    assert admin_client.get(f"/jobs/{job}").json()["owner"] == ADMIN
    assert client.get(f"/jobs/{job}").status_code == 404
    with open(audio_dir / "t.wav", "rb") as f:  # named: into the tester's session
        r = admin_client.post(f"/sessions/{sid}/files?owner={USER}", files={"file": ("given.wav", f, "audio/wav")})
    assert r.status_code == 201, r.text
    assert sorted(f["name"] for f in client.get(f"/sessions/{sid}").json()["files"]) == ["given.wav", "t.wav"]


def test_an_admin_reaches_the_data_of_a_user_removed_from_auth_users(app, client, other_client, admin_client):
    """A stranger removed bob from AUTH_USERS: his sessions stayed on disk, and `?owner=bob` was 404 to the admin,
    who could reach them only by session id. A name with data here is an owner an admin may name; a name with
    none is still 404, and an ordinary user still reaches no one else's."""
    gone = f"gone-{uuid.uuid4().hex[:8]}"
    app.extensions["music_analyzer"].sessions.of(gone).create("kept")
    listed = admin_client.get(f"/sessions?owner={gone}")
    assert listed.status_code == 200 and [s["session_id"] for s in listed.json()["sessions"]] == ["kept"]
    assert admin_client.get(f"/jobs?owner={gone}").status_code == 200
    assert admin_client.delete(f"/sessions/kept?owner={gone}").status_code == 200
    assert admin_client.get(f"/sessions?owner=never-{uuid.uuid4().hex[:8]}").status_code == 404
    assert other_client.get(f"/sessions?owner={gone}").status_code == 404


def test_the_session_listing_names_whose_sessions_it_lists(client, admin_client):
    """`GET /sessions` says whose sessions it lists (`owner`): the web page tells by it an admin's own sessions from
    another user's she opened by its link, and names that user in each request about it."""
    assert client.get("/sessions?limit=1").json()["owner"] == USER
    assert admin_client.get("/sessions?limit=1").json()["owner"] == ADMIN
    assert admin_client.get(f"/sessions?limit=1&owner={USER}").json()["owner"] == USER
