"""The Sessions list of the web page in a real browser (Debian's headless Chromium driven by Playwright, against the
live test service): the open session is listed wherever the pages read so far would put it."""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in


@pytest.mark.needs_chromium
def test_the_open_session_is_listed_past_the_first_page_of_sessions(browser, server, client, session_id, audio_dir,
                                                                    settings):
    """A stranger's newest session, open with its file, was nowhere in the Sessions list: it listed 20 at a time by
    id, and 20 others came first. The list is now the last modified first (GET /sessions?order=modified), and the
    open session is always listed, marked as the current one: here an old one, opened by its link, past the first
    page of 20 newer ones."""
    import time

    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload
    from tests.test_session_order import FUTURE, touch

    others = [f"0-{i:02d}" for i in range(21)]  # by id before any other ("-" before every digit and letter)
    assert upload(client, session_id, write(audio_dir / "listed.wav", sine(440, 0.5))).status_code == 201
    touch(settings, session_id, time.time() - 10 * 365 * 86400)  # last changed ten years ago: after every other
    for i, other in enumerate(others):
        assert client.post("/sessions", json={"session_id": other}).status_code == 201
        touch(settings, other, FUTURE + i)  # 0-20 the last changed (made within one clock tick, they would tie)
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=listed.wav")
        page.locator("#track-h", has_text="listed.wav").wait_for()
        page.locator("#more-sessions").wait_for()  # more than a page of sessions
        row = page.locator(f"#session-list button.session[data-session='{session_id}']")
        row.wait_for()
        assert row.get_attribute("aria-current") == "true" and "1 file" in row.inner_text()
        firsts = page.locator("#session-list button.session").evaluate_all("(bs) => bs.map((b) => b.dataset.session)")
        assert firsts[:20] == others[::-1][:20] and firsts[20:] == [session_id], firsts  # newest first, then it
        page.locator("#more-sessions").click()  # the next page (0-00 and older ones): it is listed once
        page.locator("#session-list button.session[data-session='0-00']").wait_for()
        page.wait_for_function("(id) => document.querySelectorAll(`#session-list button[data-session='${id}']`)"
                               ".length === 1", arg=session_id)
        assert not problems, problems
    finally:
        context.close()
        for other in others:
            client.delete(f"/sessions/{other}")
