"""Leaving the web page while an upload is on its way, in a real browser (Debian's headless Chromium driven by
Playwright, against the live test service).

A stranger reloaded the page at 23 % of a 32 MB WAV: the upload was dropped without a word, and the page came back
without the file and nothing said of it. While an upload is on its way, leaving or reloading now asks first (the
browser's own "Leave site?" dialog); once it is stored, nothing is asked.
"""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in


def choose(page, path, *, until) -> None:
    """`path` chosen with the page's "Choose files…" (a person's click: the browser asks before leaving only after
    one), returning once the request `until` matches is made."""
    with page.expect_file_chooser() as chooser:
        page.locator("#drop-zone label", has_text="Choose files…").click()
    with page.expect_request(until):
        chooser.value.set_files(str(path))


def leave_and_stay(page) -> None:
    """Leaving asks first ("Leave site?"), and the answer is to stay."""
    with page.expect_event("dialog") as asked:
        page.close(run_before_unload=True)
    assert asked.value.type == "beforeunload"
    asked.value.dismiss()


@pytest.mark.needs_chromium
def test_leaving_the_page_mid_upload_asks_first_and_not_after(browser, server, session_id, audio_dir):
    from tests.audio_synth import sine, write

    path = write(audio_dir / "on-its-way.wav", sine(440, 0.5))
    held = []
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}")
        page.locator("#session-title", has_text=session_id).wait_for()
        page.route("**/sessions/*/files", lambda route: held.append(route))  # the upload waits on the wire
        choose(page, path, until=lambda r: r.method == "POST" and r.url.endswith("/files"))
        leave_and_stay(page)
        assert held, "the upload is held"
        held[0].continue_()
        page.locator("#upload-list li.upload.ok", has_text="on-its-way.wav").wait_for()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.type), d.accept()))
        with page.expect_event("close"):
            page.close(run_before_unload=True)
        assert dialogs == [] and not problems, (dialogs, problems)
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_leaving_before_the_session_answers_asks_first(browser, server, session_id, audio_dir):
    """The rows are listed at the drop, before the open session is read again for what it holds: leaving then had
    asked nothing (no byte was being sent yet) and the files were lost without a word. A whole run's order."""
    from tests.audio_synth import sine, write

    path = write(audio_dir / "not-yet-sent.wav", sine(440, 0.5))
    held = []
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}")
        page.locator("#session-title", has_text=session_id).wait_for()
        # the session's read for the upload waits (later reads go on)
        page.route(f"**/sessions/{session_id}", lambda route: route.continue_() if held else held.append(route))
        choose(page, path, until=lambda r: r.method == "GET" and r.url.endswith(f"/sessions/{session_id}"))
        page.locator("#upload-list li.upload", has_text="not-yet-sent.wav").wait_for()
        leave_and_stay(page)
        assert held, "the session's read is held"
        held[0].continue_()
        page.locator("#upload-list li.upload.ok", has_text="not-yet-sent.wav").wait_for()
        assert not problems, problems
    finally:
        context.close()
