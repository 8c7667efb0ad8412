"""What a second stranger's trial of the web page found, in a real browser (Debian's headless Chromium driven by
Playwright, against the live test service): of several files dropped, the one that finished uploading first was
opened; thirty Run buttons read alike; the player and the waveform downloaded the track twice; and a second tab read
the whole session once per file uploaded in the first. Uploads are held back with Playwright's routing (the
request waits, unanswered, until the test lets it go), never with sleeps."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser_page import logged_in
from tests.test_web_access import violations


@pytest.mark.needs_chromium
def test_each_run_button_says_what_it_runs_on_which_file(browser, server, client, session_id, audio_dir):
    """A stranger's screen reader listed the Files panel's buttons as "Run", "Run", "Run"... (one per file), each
    form's fields the same. A Run names what is ticked and the file; one file's analyses are open at a time."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    names = ["t1.wav", "t2.wav", "t3.wav"]
    for i, name in enumerate(names):
        assert upload(client, session_id, write(audio_dir / name, sine(300 + 20 * i, 0.3))).status_code == 201
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=t1.wav")
        for name in names:
            row = page.locator(f"#file-list li.file[data-file='{name}']")
            if row.locator("details").get_attribute("open") is None:
                row.locator("summary").click()
            expect(row.locator("summary")).to_have_accessible_name(f"Analyse… {name}")
            expect(row.get_by_role("button", name=re.compile("^Run"))).to_have_accessible_name(
                f"Run Key, tempo, chords, melody; Features picture on {name}")
            expect(page.locator("#file-list details[open]")).to_have_count(1)  # the others' closed
        row = page.locator("#file-list li.file[data-file='t3.wav']")
        row.get_by_label("Stems", exact=True).check()
        run = row.get_by_role("button", name=re.compile("^Run"))
        expect(run).to_have_accessible_name("Run Key, tempo, chords, melody; Features picture; Stems on t3.wav")
        for label in ("Key, tempo, chords, melody", "Features picture", "Stems"):
            row.get_by_label(label, exact=True).uncheck()
        expect(run).to_have_accessible_name("Run on t3.wav: tick an analysis first")
        assert violations(page) == []
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_the_player_and_the_waveform_share_one_download(browser, server, client, session_id, audio_dir):
    """The player fetched the track and the waveform fetched it again: every byte twice (on a slow link, twice the
    wait). The waveform's download is what the player plays."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "once.wav", sine(440, 2.0))).status_code == 201
    context, page, problems = logged_in(browser)
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if r.url.startswith(server) and "/files/once.wav" in r.url
            else None)
    try:
        page.goto(f"{server}/#session={session_id}&file=once.wav")
        page.locator("#track-h", has_text="once.wav").wait_for()
        page.wait_for_function("() => !document.querySelector('#track-status').textContent.includes('Loading')")
        page.evaluate("() => document.querySelector('#player').play()")
        page.wait_for_function("() => document.querySelector('#player').currentTime > 0.3")
        assert len(fetched) == 1, fetched
        assert page.evaluate("() => document.querySelector('#player').src").startswith("blob:")
        assert not problems, problems
    finally:
        context.close()
