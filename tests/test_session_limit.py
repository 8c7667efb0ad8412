"""MAX_SESSIONS_PER_USER over real HTTP: an ordinary user holding that many sessions gets 409 `too_many_sessions`
for another, made by POST /sessions or by an upload to a new id, before anything is stored; uploads into the
sessions they hold go on; deleting one makes room; an admin has no limit. And POST /sessions makes no session once
the owner's USER_STORAGE_MB is used (507): empty sessions are folders on disk too."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from tests.audio_synth import sine, write
from tests.conftest import USER
from tests.contract import assert_answer
from tests.test_api_sessions import upload
from tests.test_storage_quota import assert_quota_answer, quota, storage  # noqa: F401 (quota: a fixture)


@pytest.fixture()
def restore_session_limit(app) -> Iterator[None]:
    before = app.config["MAX_SESSIONS_PER_USER"]
    yield
    app.config["MAX_SESSIONS_PER_USER"] = before


def held(client) -> int:
    count, cursor = 0, None
    while True:
        page = client.get("/sessions", params={"limit": 1000, **({"cursor": cursor} if cursor else {})}).json()
        count += len(page["sessions"])
        if not (cursor := page["next_cursor"]):
            return count


def test_sessions_stop_at_the_limit_and_resume_after_a_delete(app, restore_session_limit, other_client,
                                                             admin_client, audio_dir):
    from api.openapi.build import spec_for

    spec = spec_for(app)
    tone = write(audio_dir / "session-limit.wav", sine(349.2, 0.5))
    app.config["MAX_SESSIONS_PER_USER"] = held(other_client) + 2
    tag = uuid.uuid4().hex[:8]
    first, second, third = (f"limit-{tag}-{i}" for i in range(3))
    assert other_client.post("/sessions", json={"session_id": first}).status_code == 201
    assert upload(other_client, second, tone).status_code == 201  # an upload to a new id makes one too
    for refused in (other_client.post("/sessions", json={"session_id": third}), upload(other_client, third, tone)):
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "too_many_sessions" and "MAX_SESSIONS_PER_USER" in error["message"], error
        assert app.config["DATA_DIR"] not in error["message"]
    assert_answer(spec, "POST", "/sessions", 409, other_client.post("/sessions").json())
    assert other_client.get(f"/sessions/{third}").status_code == 404  # nothing made
    assert upload(other_client, first, tone).status_code == 201  # a session held takes uploads as before
    own = f"limit-admin-{tag}"  # an admin has none
    assert admin_client.post("/sessions", json={"session_id": own}).status_code == 201
    assert admin_client.delete(f"/sessions/{own}").status_code == 200

    assert other_client.delete(f"/sessions/{second}").status_code == 200
    assert upload(other_client, third, tone).status_code == 201
    app.config["MAX_SESSIONS_PER_USER"] = 0  # no limit
    assert other_client.post("/sessions", json={"session_id": second}).status_code == 201
    for sid in (first, second, third):
        assert other_client.delete(f"/sessions/{sid}").status_code == 200


def test_uploads_arriving_together_cannot_pass_the_limit_together(app, restore_session_limit, other_client,
                                                                  audio_dir):
    """A stranger's 8 simultaneous uploads to new ids, one session left to them, had made 5: each had passed the
    early count before any had made its session (the upload is decoded in between). The count that decides is
    taken with the session made, under a lock."""
    long = write(audio_dir / "session-limit-long.wav", sine(392.0, 30.0))
    app.config["MAX_SESSIONS_PER_USER"] = held(other_client) + 1
    tag = uuid.uuid4().hex[:8]
    ids = [f"race-{tag}-{i}" for i in range(6)]
    start = threading.Barrier(len(ids))
    answers: dict[str, int] = {}

    def send(sid: str) -> None:
        start.wait()
        answers[sid] = upload(other_client, sid, long).status_code

    threads = [threading.Thread(target=send, args=(sid,)) for sid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    made = [sid for sid in ids if other_client.get(f"/sessions/{sid}").status_code == 200]
    try:
        assert sorted(answers.values()) == [201] + [409] * (len(ids) - 1), answers
        assert set(made) == {sid for sid, status in answers.items() if status == 201}
    finally:
        for sid in made:
            other_client.delete(f"/sessions/{sid}")


def test_no_session_is_made_once_the_quota_is_used(app, quota, other_client):  # noqa: F811
    from api.openapi.build import spec_for

    held_one = f"limit-held-{uuid.uuid4().hex[:8]}"
    assert other_client.post("/sessions", json={"session_id": held_one}).status_code == 201
    quota(storage(other_client)["used_bytes"])  # full (0 would be no quota: the session takes some)
    sid = f"limit-quota-{uuid.uuid4().hex[:8]}"
    r = other_client.post("/sessions", json={"session_id": sid})
    other_client.delete(f"/sessions/{held_one}")
    assert_quota_answer(r, app)
    assert "no new session can be made" in r.json()["error"]["message"]
    assert_answer(spec_for(app), "POST", "/sessions", 507, r.json())
    assert other_client.get(f"/sessions/{sid}").status_code == 404


@pytest.mark.parametrize("given", ["x\n", "y\r\n", "\nz", "a b"])
def test_a_session_id_with_a_line_break_is_refused_and_makes_no_folder(client, app, given):
    """`$` in the id pattern had matched before a final newline: a stranger's POST made a session "x\\n" (a folder of
    that name) which the page then called no session id; a cursor "demo\\n" was taken too."""
    before = held(client)
    r = client.post("/sessions", json={"session_id": given})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_session_id", r.text
    assert held(client) == before
    r = client.get("/sessions", params={"cursor": "demo\n"})
    assert r.status_code == 400, r.text
    folder = app.extensions["music_analyzer"].sessions.of(USER).sessions_dir
    assert not any("\n" in p.name or "\r" in p.name for p in folder.iterdir()) if folder.exists() else True
