"""A recording dropped again on the web page while its first upload is still on its way, in a real browser (Debian's
headless Chromium driven by Playwright, against the live test service; the uploads are held on the wire by the
test's route until it lets them go, so "still on its way" is a state, not a race).

The page did not send again a file whose bytes the open session holds (tests/test_web_same_upload.py), but a file
dropped a second time before its first upload had ended was sent too: the session ended with x.wav and x-1.wav. Now
a file whose bytes match an upload on its way into the same session (same size, same SHA-256) waits for it, its row
saying "already being uploaded as x.wav: not sent twice", and reads as a file the session holds once it is stored.
When that first upload fails or is canceled (each upload row has a Cancel now), the waiting file is sent itself: the
second drop is not lost with the first.
"""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in

WAITING = "already being uploaded as {}: not sent twice"
HELD = "already in this session as {}: not sent again"


def _hold_uploads(page):
    """Every upload (POST .../files) waits on the wire while `hold["on"]`; returns (held routes, hold, posts seen)."""
    held: list = []
    hold = {"on": True}
    posts: list[str] = []

    def handle(route):
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(route.request.url)
        if hold["on"]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/sessions/*/files", handle)
    return held, hold, posts


def _is_upload(request) -> bool:
    return request.method == "POST" and request.url.endswith("/files")


def _names(client, session_id) -> list[str]:
    return sorted(f["name"] for f in client.get(f"/sessions/{session_id}").json()["files"])


def _dropped_twice(page, server: str, session_id: str, take):
    """The session open, `take` dropped and its upload held on the wire, then dropped again: the second row waits
    for the first (read from the page). Returns (held routes, hold, posts seen, the second row)."""
    from tests.test_web_page import drop_files

    page.goto(f"{server}/#session={session_id}")
    page.locator("#session-title", has_text=session_id).wait_for()
    held, hold, posts = _hold_uploads(page)
    with page.expect_request(_is_upload):
        drop_files(page, "#drop-zone", [take])
    drop_files(page, "#drop-zone", [take])
    second = page.locator("#upload-list li.upload").nth(1)
    second.filter(has_text=WAITING.format(take.name)).wait_for()
    return held, hold, posts, second


@pytest.mark.needs_chromium
def test_a_file_dropped_again_while_its_upload_is_on_its_way_is_not_sent_twice(
        browser, server, client, session_id, audio_dir):
    from tests.audio_synth import sine, write
    from tests.test_web_page import drop_files

    take = write(audio_dir / "flying-take.wav", sine(440, 0.5))
    (audio_dir / "flying-copy").mkdir(exist_ok=True)
    copy = audio_dir / "flying-copy" / "copy-of-take.wav"  # the same bytes under another name
    copy.write_bytes(take.read_bytes())
    other = write(audio_dir / "flying-other.wav", sine(660, 0.5))  # the same size, other bytes: sent
    context, page, problems = logged_in(browser)
    rows = page.locator("#upload-list li.upload")
    try:
        held, hold, posts, _ = _dropped_twice(page, server, session_id, take)
        drop_files(page, "#drop-zone", [copy, other])  # one drop: the copy waits, the other is sent
        waiting = rows.filter(has_text=WAITING.format("flying-take.wav"))
        waiting.filter(has_text="copy-of-take.wav").wait_for()
        assert waiting.count() == 2 and waiting.filter(has_text="flying-take.wav").count() == 2
        assert page.locator("#upload-list li.upload:not(.waiting)", has_text="flying-take.wav").count() == 1
        hold["on"] = False
        assert len(held) >= 1, "the first upload is held"
        for route in held:
            route.continue_()

        known = rows.filter(has_text=HELD.format("flying-take.wav"))
        known.filter(has_text="copy-of-take.wav").wait_for()
        known.nth(1).wait_for()
        assert known.count() == 2 and page.locator("#upload-list li.upload.waiting").count() == 0
        rows.filter(has_text="flying-other.wav").filter(has_text="done").wait_for()
        assert len(posts) == 2, posts  # the first drop of the take, and the other
        assert _names(client, session_id) == ["flying-other.wav", "flying-take.wav"]  # no flying-take-1.wav
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
@pytest.mark.parametrize("ending", ["interrupted", "canceled"])
def test_a_file_waiting_for_an_upload_that_does_not_end_is_sent_itself(
        browser, server, client, session_id, audio_dir, ending):
    from tests.audio_synth import sine, write

    take = write(audio_dir / f"lost-{ending}.wav", sine(330, 0.5))
    context, page, problems = logged_in(browser)
    rows = page.locator("#upload-list li.upload")
    try:
        held, hold, posts, second = _dropped_twice(page, server, session_id, take)
        hold["on"] = False  # the waiting file's own upload, once it is sent, goes through
        first = rows.nth(0)
        if ending == "interrupted":
            assert len(held) == 1, "the first upload is held"
            held[0].abort("connectionreset")
            first.filter(has_text="the upload was interrupted").wait_for()
        else:
            first.get_by_role("button", name=f"Cancel the upload of {take.name}").click()
            first.filter(has_text="canceled: not uploaded").wait_for()
        assert first.get_by_role("button", name=f"Cancel the upload of {take.name}").count() == 0

        page.locator("#upload-list li.upload.ok", has_text=take.name).filter(has_text="done").wait_for()
        assert second.get_by_role("button", name=f"Cancel the upload of {take.name}").count() == 0
        page.locator(f"#file-list li.file[data-file='{take.name}']").wait_for()
        assert len(posts) == 2, posts  # the first (not stored) and the second
        assert _names(client, session_id) == [take.name]
        # the browser's own line for the connection the test reset
        assert [p for p in problems if "ERR_CONNECTION_RESET" not in p] == [], problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_waiting_file_can_be_canceled_and_the_first_upload_goes_on(browser, server, client, session_id, audio_dir):
    from tests.audio_synth import sine, write

    take = write(audio_dir / "waits-then-canceled.wav", sine(550, 0.5))
    context, page, problems = logged_in(browser)
    rows = page.locator("#upload-list li.upload")
    try:
        held, hold, posts, second = _dropped_twice(page, server, session_id, take)
        second.get_by_role("button", name=f"Cancel the upload of {take.name}").click()
        second.filter(has_text="canceled: not uploaded").wait_for()
        assert len(held) == 1, "the first upload is held"
        held[0].continue_()
        rows.nth(0).filter(has_text="done").wait_for()
        page.locator(f"#file-list li.file[data-file='{take.name}']").wait_for()
        assert second.filter(has_text="canceled: not uploaded").count() == 1  # it stays canceled
        assert len(posts) == 1, posts
        assert _names(client, session_id) == [take.name]
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_two_drops_with_no_session_open_go_into_one_new_session(browser, server, client, audio_dir):
    from tests.audio_synth import sine, write
    from tests.test_web_page import drop_files

    take = write(audio_dir / "first-drops.wav", sine(220, 0.5))
    context, page, problems = logged_in(browser)
    made: list = []
    created: list[str] = []
    try:
        page.goto(server)
        page.locator("#session-title", has_text="No session open").wait_for()

        hold = {"on": True}

        def making(route):  # the new session's making waits on the wire, as on a slow link
            if route.request.method == "POST" and hold["on"]:
                made.append(route)
            else:
                route.continue_()

        page.route("**/sessions", making)
        page.on("response", lambda r: created.append(r.json()["session_id"])
                if r.request.method == "POST" and r.url.endswith("/sessions") and r.status == 201 else None)
        with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/sessions")):
            drop_files(page, "#drop-zone", [take])
        drop_files(page, "#drop-zone", [take])
        page.locator("#upload-list li.upload").nth(1).wait_for()
        hold["on"] = False
        assert len(made) >= 1
        for route in made:
            route.continue_()
        rows = page.locator("#upload-list li.upload")
        rows.filter(has_text=HELD.format(take.name)).wait_for()
        session_id = page.locator("#session-title").inner_text().removeprefix("Session ")
        assert created == [session_id], created  # one session made, not one per drop
        assert _names(client, session_id) == [take.name]
        assert not problems, problems
    finally:
        context.close()
        for made_id in created:
            client.delete(f"/sessions/{made_id}")


@pytest.mark.needs_chromium
def test_an_upload_sent_whole_has_no_cancel_while_the_server_checks_it(browser, app, client, session_id, audio_dir):
    """Every byte sent, the server may have stored the file already: a Cancel then would read "not uploaded" of a
    file the session holds. The row's Cancel goes at "checking…". The answer is held by the server here (the app
    served through a wrapper that waits before answering an upload): a route held in the browser sends no byte."""
    import threading

    from tests.audio_synth import sine, write
    from tests.conftest import serving
    from tests.test_web_page import drop_files

    answer = threading.Event()

    def answering_later(environ, start_response):
        result = app(environ, start_response)  # the upload read and stored
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/files"):
            answer.wait(120)
        return result

    take = write(audio_dir / "sent-whole.wav", sine(440, 0.5))
    context, page, problems = logged_in(browser)
    try:
        with serving(answering_later) as base:
            page.goto(f"{base}/#session={session_id}")
            page.locator("#session-title", has_text=session_id).wait_for()
            row = page.locator("#upload-list li.upload", has_text=take.name)
            drop_files(page, "#drop-zone", [take])
            row.locator(".status", has_text="checking…").wait_for()
            assert row.get_by_role("button", name=f"Cancel the upload of {take.name}").count() == 0
            answer.set()
            row.filter(has_text="done").wait_for()
        assert _names(client, session_id) == [take.name]
        assert not problems, problems
    finally:
        answer.set()
        context.close()
