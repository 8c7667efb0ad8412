"""The page when the server refuses its login for a while (429 too_many_attempts), in a real browser (Debian's
headless Chromium driven by Playwright). Two app instances share one private valkey, as two API processes behind
nginx do: the page's own reads reach one that already took its credentials, its job's event stream the other. A
stranger's trial: the row's live progress stopped, and the page said nothing (or that the server was not
answering) while it retried blindly.
"""

from __future__ import annotations

import re

import pytest
import requests

from redis_server import start_embedded
from tests.browser_page import logged_in
from tests.conftest import PASSWORD, USER, Client, queued_record, serving

LIMIT, WINDOW_SECONDS = 3, 8  # long enough for the page to open and be refused, short for the test


class TwoProcesses:
    """The front: `/jobs/...` (the event streams, the job reads) to `streams`, everything else to `pages`."""

    def __init__(self, pages, streams):
        self.pages, self.streams = pages, streams

    def __call__(self, environ, start_response):
        app = self.streams if environ["PATH_INFO"].startswith("/jobs/") else self.pages
        return app(environ, start_response)


@pytest.fixture()
def private_redis_url(tmp_path):
    server = start_embedded(tmp_path / "valkey")
    yield f"redis://127.0.0.1:{server.port}/0"
    server.stop()


@pytest.mark.needs_chromium
def test_a_refused_login_is_said_with_its_wait_and_the_row_follows_its_job_after(browser, settings, audio_dir,
                                                                                 private_redis_url, tmp_path):
    from app import create_app
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    config = {**settings, "REDIS_URL": private_redis_url, "DATA_DIR": str(tmp_path / "data"),
              "LOGIN_FAILURE_LIMIT": LIMIT, "LOGIN_FAILURE_WINDOW_SECONDS": WINDOW_SECONDS}
    pages, streams = create_app(config), create_app(config)
    with serving(TwoProcesses(pages, streams)) as base:
        client = Client(base)  # its credentials taken by `pages` (and this address known for the name)
        session_id = client.post("/sessions").json()["session_id"]
        assert upload(client, session_id, write(audio_dir / "throttled.wav", sine(440, 0.5))).status_code == 201
        job = queued_record(pages, owner=USER, job_type="features", session_id=session_id,
                            queue=settings["CPU_QUEUE"], task="music_analyzer.features",
                            params={"files": ["throttled.wav"], "batch": False, "options": {}})
        for i in range(LIMIT):  # wrong passwords for the name from this address: its own count here is full
            assert requests.get(f"{base}/jobs/x", auth=(USER, f"typo-{i}"), timeout=30).status_code == 401
        refused = requests.get(f"{base}/jobs/{job['job_id']}/events", auth=(USER, PASSWORD), timeout=30)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= WINDOW_SECONDS
        context, page, _ = logged_in(browser)
        try:
            page.goto(f"{base}/#session={session_id}")
            row = page.locator(f"#job-list li.job[data-job='{job['job_id']}']")
            row.locator(".state", has_text="queued").wait_for()  # the session's reads are answered
            notice = page.locator("#notice .notice[data-cause='throttled']")
            notice.wait_for()
            text = notice.inner_text()
            assert "Too many failed logins" in text and "live progress resumes" in text, text
            left = int(re.search(r"Try again in (\d+) s", text).group(1))
            assert 1 <= left <= WINDOW_SECONDS, text
            assert "not answering" not in page.locator("#notice").inner_text()
            # the window over, the stream is opened again: the notice goes and the row follows the job live
            notice.wait_for(state="detached", timeout=(WINDOW_SECONDS + 20) * 1000)
            assert client.delete(f"/jobs/{job['job_id']}").status_code == 202
            row.locator(".state", has_text="canceled").wait_for(timeout=30000)
            assert page.locator("#notice .notice").count() == 0
        finally:
            context.close()
