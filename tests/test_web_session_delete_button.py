"""Deleting the open session from the web page, in a real browser (Debian's headless Chromium driven by Playwright),
against a real server: the page had no way to delete a session, while a full storage quota told the user to "delete
sessions to upload or analyse more". A "Delete session" button (for the open one) asks first (the browser's
confirm), deletes it and closes it; a session the server refuses to delete (a job of it queued) says why and stays.
"""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in
from tests.conftest import Client, serving
from tests.test_fair_queue import A, session_with_tone


@pytest.mark.needs_chromium
def test_the_open_session_is_deleted_once_confirmed(browser, server, client, session_id, audio_dir):
    from playwright.sync_api import expect

    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "to-delete.wav", sine(440, 0.5))).status_code == 201
    context, page, problems = logged_in(browser)
    asked: list[str] = []
    try:
        page.goto(f"{server}/#session={session_id}")
        page.locator("#file-list li.file[data-file='to-delete.wav']").wait_for()
        button = page.get_by_role("button", name=f"Delete session {session_id}")

        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))  # not confirmed: nothing happens
        button.click()
        page.locator("#file-list li.file[data-file='to-delete.wav']").wait_for()
        assert client.get(f"/sessions/{session_id}").status_code == 200

        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        button.click()
        page.locator("#notice", has_text=f"Session {session_id} deleted.").wait_for()
        page.locator("#session-title", has_text="No session open").wait_for()
        # the lists are drawn again from the server's answers, after the notice: awaited, not read at once (a whole
        # run read the session still listed)
        expect(page.locator("#file-list li.file")).to_have_count(0)
        expect(page.locator(f"#session-list button.session[data-session='{session_id}']")).to_have_count(0)
        assert button.count() == 0 and page.locator("#delete-session").is_hidden()
        assert client.get(f"/sessions/{session_id}").status_code == 404
        assert asked == [f"Delete session {session_id}, its 1 file and every result? This cannot be undone."] * 2
        assert session_id not in page.url
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_session_with_a_queued_job_is_not_deleted_and_the_page_says_why(browser, own_queues, tmp_path):
    from app import create_app

    app = create_app(own_queues)  # queues no worker consumes: the job stays queued
    with app.test_client() as wc:
        sid = session_with_tone(wc, A, tmp_path, "busy.wav")
    with serving(app) as base:
        api = Client(base)
        job = api.post(f"/process/features/{sid}", json={"file": "busy.wav", "picture": False}).json()
        context, page, problems = logged_in(browser)
        try:
            page.goto(f"{base}/#session={sid}")
            page.locator(f"#job-list li.job[data-job='{job['job_id']}']").wait_for()
            page.once("dialog", lambda d: d.accept())
            page.get_by_role("button", name=f"Delete session {sid}").click()
            page.locator("#notice", has_text="1 queued or running job(s); cancel them first").wait_for()
            assert page.locator("#session-title").inner_text() == f"Session {sid}"
            assert api.get(f"/sessions/{sid}").status_code == 200
            # the server's refusal is a console line of the browser's own (a 409 answer)
            assert [p for p in problems if "409" not in p] == [], problems
        finally:
            context.close()
