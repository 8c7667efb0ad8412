"""The page sends an upload the server refused for the user's share again (429 too_many_uploads), in a real browser
(Debian's headless Chromium driven by Playwright) against a real gunicorn of the API's worker class (gthread, 4
threads), where the share applies: the page's own test server has a thread per request, where it does not.

A drop of four files sends them at once; the server checks two of one user's uploads at a time (UPLOADS_PER_USER)
and refuses the others before their body is read, storing nothing. Stop 74 checked the page's re-send by hand only:
a page that took the 429 for a refusal would have said "was not uploaded" of files the user only had to wait for.
"""

from __future__ import annotations

import subprocess

import pytest
import requests

from tests.browser_page import logged_in
from tests.conftest import PASSWORD, USER
from tests.test_api_thread_share import THREADS, gunicorn_api
from tests.test_upload_share import SECONDS

FILES = THREADS  # one drop: twice the user's share of uploads checked at once


def slow_to_check(path, frequency: int) -> None:
    """An IMA ADPCM CAF (the dearest audio to decode: its check holds a thread for seconds); each file its own tone,
    so the page sends each (it waits for an upload of the same bytes on its way instead of sending them twice)."""
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=f={frequency}:d={SECONDS}:sample_rate=44100",
                    "-c:a", "adpcm_ima_qt", str(path)], check=True)


@pytest.mark.needs_chromium
def test_the_page_sends_an_upload_refused_for_the_users_share_again_and_stores_every_file(browser, settings,
                                                                                         tmp_path):
    names = [f"share{i}.caf" for i in range(FILES)]
    for i, name in enumerate(names):
        slow_to_check(tmp_path / name, 300 + 40 * i)
    with gunicorn_api(settings, tmp_path) as base:
        session_id = requests.post(f"{base}/sessions", auth=(USER, PASSWORD), timeout=60).json()["session_id"]
        context, page, problems = logged_in(browser)
        answers: list[int] = []
        page.on("response", lambda r: answers.append(r.status)
                if r.request.method == "POST" and r.url.endswith(f"/sessions/{session_id}/files") else None)
        try:
            page.goto(f"{base}/#session={session_id}")
            page.locator("#session-title", has_text=session_id).wait_for()
            page.locator("#file-input").set_input_files([str(tmp_path / n) for n in names])
            announcer = page.locator("#announcer")
            for name in names:  # the refused ones too, after their Retry-After (5 s); a refusal said ends the wait
                said = announcer.locator("p", has_text=f"{name} uploaded").or_(
                    announcer.locator("p", has_text=f"{name} was not uploaded")).first
                said.wait_for(timeout=180_000)
                assert said.inner_text().endswith(f"{name} uploaded"), said.inner_text()
            assert not announcer.locator("p", has_text="was not uploaded").count()
        finally:
            context.close()
        # the server did refuse some for the share (else nothing here was tried), and stored each file once
        assert sorted(answers) == [201] * FILES + [429] * answers.count(429) and answers.count(429) >= 1, answers
        stored = requests.get(f"{base}/sessions/{session_id}", auth=(USER, PASSWORD), timeout=60).json()["files"]
        assert sorted(f["name"] for f in stored) == names
        # the browser's own console reports each 429 response as a failed resource; nothing else went wrong
        assert not [p for p in problems if "429" not in p], problems
