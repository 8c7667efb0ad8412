"""A recording dropped again on the web page, in a real browser (Debian's headless Chromium driven by Playwright,
against the live test service).

A stranger dropped the same recording twice into a session and the page stored a second copy, `x-1.ogg`, where the
CLI (`ma analyze FILE --session S`) recognises bytes the session holds (same SHA-256 under any name) and analyses
the existing upload. The page now hashes a dropped file where the session holds an upload of its size and, where
the digests match, does not send it: the row says under which name the session holds it, and that file is opened.
The API is unchanged: the same name uploaded again through it is stored renamed (tests/test_api_sessions.py).
"""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in


@pytest.mark.needs_chromium
def test_a_file_the_session_holds_is_not_sent_again_and_is_opened(browser, server, client, session_id, audio_dir):
    from tests.audio_synth import sine, write
    from tests.test_web_page import drop_files

    take = write(audio_dir / "same-take.wav", sine(440, 0.5))
    other = write(audio_dir / "other-take.wav", sine(660, 0.5))  # the same size, other bytes: sent
    (audio_dir / "copied").mkdir(exist_ok=True)
    copy = audio_dir / "copied" / "renamed-take.wav"
    copy.write_bytes(take.read_bytes())  # the same bytes under another name: not sent either
    assert take.stat().st_size == other.stat().st_size and take.read_bytes() != other.read_bytes()
    context, page, problems = logged_in(browser)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" and r.url.endswith("/files") else None)
    rows = page.locator("#upload-list li.upload")
    try:
        page.goto(f"{server}/#session={session_id}")
        page.locator("#session-title", has_text=session_id).wait_for()
        drop_files(page, "#drop-zone", [take])
        page.locator("#upload-list li.upload.ok", has_text="same-take.wav").wait_for()
        page.locator("#file-list li.file.current[data-file='same-take.wav']").wait_for()
        drop_files(page, "#drop-zone", [other])
        page.locator("#upload-list li.upload.ok", has_text="other-take.wav").wait_for()
        page.locator("#file-list li.file.current[data-file='other-take.wav']").wait_for()

        drop_files(page, "#drop-zone", [take])
        again = rows.filter(has_text="already in this session as same-take.wav: not sent again")
        again.wait_for()
        assert "same-take.wav" in again.locator(".name").inner_text() and again.locator("progress").count() == 0
        page.locator("#file-list li.file.current[data-file='same-take.wav']").wait_for()  # opened, as after an upload
        assert page.locator("#file-list li.file").count() == 2

        drop_files(page, "#drop-zone", [copy])
        rows.filter(has_text="renamed-take.wav").filter(
            has_text="already in this session as same-take.wav: not sent again").wait_for()
        assert len(sent) == 2, sent  # the first two drops only
        names = sorted(f["name"] for f in client.get(f"/sessions/{session_id}").json()["files"])
        assert names == ["other-take.wav", "same-take.wav"], names  # no same-take-1.wav
        assert not problems, problems
    finally:
        context.close()
