"""GET /sessions?order=modified over real HTTP (real server, real session folders): the most recently modified first,
ties by id, paged by an opaque (modified time, id) cursor that continues correctly while sessions change between
reads; the default order stays by id. A stranger's session of a moment ago had sat on a later page, among its ids.

Where a test needs times it can tell apart (folders made within one clock tick share their mtime), it sets the
session folders' mtimes itself with os.utime, as a write at that time would have."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from pathlib import Path

import pytest

from tests.audio_synth import sine, write
from tests.conftest import USER
from tests.contract import assert_answer
from tests.test_api_sessions import upload

FUTURE = 4_102_444_800.0  # 2100-01-01: these sessions come before every other of the user in order=modified


def folder(settings, session_id: str) -> Path:
    return Path(settings["DATA_DIR"]) / "users" / USER / "sessions" / session_id


def touch(settings, session_id: str, when: float) -> None:
    """The session last changed at `when`: its folder and its uploads/ and results/ folders (what modified_at reads)."""
    root = folder(settings, session_id)
    for path in (root / "uploads", root / "results", root):
        os.utime(path, (when, when))


def read_all(client, *, limit: int, mine: set[str], between=None) -> tuple[list[str], list[dict]]:
    """Every page of order=modified until all of `mine` that are still listed have passed: the ids of `mine` in the
    order listed and the raw pages; `between(page_number)` runs after each page is read."""
    ids: list[str] = []
    pages: list[dict] = []
    cursor = None
    while True:
        params = {"order": "modified", "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = client.get("/sessions", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append(page)
        ids += [s["session_id"] for s in page["sessions"] if s["session_id"] in mine]
        if between:
            between(len(pages))
        cursor = page["next_cursor"]
        if cursor is None or not page["sessions"] or page["sessions"][-1]["modified_at"] < "2099":
            return ids, pages


@pytest.fixture()
def made(client):
    tag = uuid.uuid4().hex[:6]
    ids = [f"ord-{tag}-{c}" for c in "abcde"]
    for session in ids:
        assert client.post("/sessions", json={"session_id": session}).status_code == 201
    yield ids
    for session in ids:
        client.delete(f"/sessions/{session}")


def test_the_session_just_made_is_listed_first(app, settings, client, audio_dir):
    from api.openapi.build import spec_for

    tag = uuid.uuid4().hex[:6]
    older, newest = f"0000-{tag}", f"zzzz-{tag}"  # by id, the older one comes first
    try:
        assert client.post("/sessions", json={"session_id": older}).status_code == 201
        touch(settings, older, time.time() - 3600)  # made an hour ago
        assert upload(client, newest, write(audio_dir / "order-newest.wav", sine(330, 0.3))).status_code == 201
        by_id = client.get("/sessions", params={"limit": 1}).json()
        by_modified = client.get("/sessions", params={"order": "modified", "limit": 1}).json()
        assert by_modified["sessions"][0]["session_id"] == newest, by_modified
        assert by_modified["sessions"][0]["files"] == 1 and by_modified["storage"] == by_id["storage"]
        assert_answer(spec_for(app), "GET", "/sessions", 200, by_modified)
        # the default order stays by id, and order=id is the same
        assert by_id["sessions"][0]["session_id"] != newest
        assert client.get("/sessions", params={"limit": 1, "order": "id"}).json() == by_id
    finally:
        for session in (older, newest):
            client.delete(f"/sessions/{session}")


def test_pages_of_order_modified_continue_while_sessions_change(settings, client, made):
    a, b, c, d, e = made
    for session, offset in ((a, 5), (b, 3), (c, 3), (d, 1), (e, 4)):  # b and c tie: by id
        touch(settings, session, FUTURE + offset)
    mine = set(made)
    listed, pages = read_all(client, limit=2, mine=mine)
    assert listed == [a, e, b, c, d]
    assert [s["session_id"] for s in pages[0]["sessions"]] == [a, e]
    assert pages[0]["sessions"][0]["modified_at"].startswith("2100-01-01T00:00:05")
    assert all(p["next_cursor"].startswith("m.") for p in pages[:-1])  # opaque, not a session id

    def change(page_number: int) -> None:
        if page_number == 1:  # after [a, e]: a changes again (stays above), d (below) becomes the newest
            touch(settings, a, FUTURE + 20)
            touch(settings, d, FUTURE + 10)

    listed, _ = read_all(client, limit=2, mine=mine, between=change)
    # nothing skipped, nothing twice: d moved above the pages read and is on the next first page
    assert listed == [a, e, b, c]
    assert read_all(client, limit=2, mine=mine)[0] == [a, d, e, b, c]
    # a page of one at a time gives the same order as one page of all
    one_page = client.get("/sessions", params={"order": "modified", "limit": 1000}).json()["sessions"]
    assert [s["session_id"] for s in one_page if s["session_id"] in mine] == [a, d, e, b, c]
    assert read_all(client, limit=1, mine=mine)[0] == [a, d, e, b, c]
    # a session deleted between pages: the cursor (its time and id) still places the next page
    first = client.get("/sessions", params={"order": "modified", "limit": 2}).json()
    assert [s["session_id"] for s in first["sessions"]] == [a, d]
    assert client.delete(f"/sessions/{d}").status_code == 200
    rest = client.get("/sessions", params={"order": "modified", "limit": 2, "cursor": first["next_cursor"]}).json()
    assert [s["session_id"] for s in rest["sessions"]] == [e, b]


def cursor_of(value) -> str:
    return "m." + base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_bad_orders_and_cursors_are_refused(app, client, made):
    from api.openapi.build import spec_for

    spec = spec_for(app)
    by_id = client.get("/sessions", params={"limit": 1}).json()["next_cursor"]
    by_modified = client.get("/sessions", params={"limit": 1, "order": "modified"}).json()["next_cursor"]
    assert by_id and by_modified
    for params, code in (
            ({"order": "newest"}, "invalid_filter"),
            ({"order": ""}, "invalid_filter"),
            ({"order": "MODIFIED"}, "invalid_filter"),
            ({"order": "modified", "cursor": by_id}, "invalid_cursor"),  # the other order's cursor
            ({"cursor": by_modified}, "invalid_cursor"),
            ({"order": "id", "cursor": by_modified}, "invalid_cursor"),
            ({"order": "modified", "cursor": "m.!!!"}, "invalid_cursor"),
            ({"order": "modified", "cursor": "m." + "A" * 300}, "invalid_cursor"),
            ({"order": "modified", "cursor": cursor_of(["1", made[0]])}, "invalid_cursor"),
            ({"order": "modified", "cursor": cursor_of([True, made[0]])}, "invalid_cursor"),
            ({"order": "modified", "cursor": "m." + base64.urlsafe_b64encode(b'[NaN, "a"]').decode()},
             "invalid_cursor"),
            ({"order": "modified", "cursor": cursor_of([1.0, "../etc"])}, "invalid_cursor"),
            ({"order": "modified", "cursor": cursor_of([1.0, made[0], 3])}, "invalid_cursor"),
            ({"order": "modified", "cursor": cursor_of({"a": 1})}, "invalid_cursor"),
    ):
        r = client.get("/sessions", params=params)
        assert r.status_code == 400, (params, r.text)
        error = r.json()["error"]
        assert error["code"] == code, (params, error)
        assert "Traceback" not in r.text and app.config["DATA_DIR"] not in r.text
        assert_answer(spec, "GET", "/sessions", 400, r.json())
    r = client.get("/sessions", params={"order": "newest"})
    assert "modified" in r.json()["error"]["message"] and r.json()["error"]["details"]["parameter"] == "order"
