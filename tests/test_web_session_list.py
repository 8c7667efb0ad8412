"""The Sessions list of the web page in a real browser (Debian's headless Chromium driven by Playwright, against the
live test service): the open session is listed wherever the pages read so far would put it."""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in


@pytest.mark.needs_chromium
def test_the_open_session_is_listed_past_the_first_page_of_sessions(browser, server, client, session_id, audio_dir):
    """A stranger's newest session, open with its file, was nowhere in the Sessions list: it lists 20 at a time by
    id, and 20 others came first. The open session is now always listed, marked as the current one."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    others = [f"0-{i:02d}" for i in range(21)]  # ids that sort before any other ("-" before every digit and letter)
    for other in others:
        assert client.post("/sessions", json={"session_id": other}).status_code == 201
    assert upload(client, session_id, write(audio_dir / "listed.wav", sine(440, 0.5))).status_code == 201
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=listed.wav")
        page.locator("#track-h", has_text="listed.wav").wait_for()
        page.locator("#more-sessions").wait_for()  # more than a page of sessions
        row = page.locator(f"#session-list button.session[data-session='{session_id}']")
        row.wait_for()
        assert row.get_attribute("aria-current") == "true" and "1 file" in row.inner_text()
        page.locator("#more-sessions").click()  # the page that lists it: listed once
        page.locator("#session-list button.session[data-session='0-20']").wait_for()
        page.wait_for_function("(id) => document.querySelectorAll(`#session-list button[data-session='${id}']`)"
                               ".length === 1", arg=session_id)
        assert not problems, problems
    finally:
        context.close()
        for other in others:
            client.delete(f"/sessions/{other}")
