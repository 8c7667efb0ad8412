"""The page's Jobs list shows a queued job's place in its queue ("1 ahead", then "next"), read again while it waits.

The server's `jobs_ahead` (jobs/queue_position.py) in a real browser (Debian's headless Chromium driven by Playwright)
against an app on queues of its own that no worker consumes, so its jobs certainly stay queued; real HTTP, real
Celery messages in the test session's valkey.
"""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in
from tests.conftest import Client, serving
from tests.test_fair_queue import A, session_with_tone

PLACE_REFRESH_MS = 5000  # how often the page reads a queued row's place again (web/js/jobs.js)


@pytest.mark.needs_chromium
def test_a_queued_rows_place_is_shown_and_follows_the_jobs_ahead_of_it(browser, own_queues, tmp_path):
    from app import create_app

    app = create_app(own_queues)
    with app.test_client() as wc:
        sid = session_with_tone(wc, A, tmp_path, "a.wav")
    with serving(app) as base:
        api = Client(base)
        first, second = (api.post(f"/process/features/{sid}", json={"file": "a.wav", "picture": False}).json()
                         for _ in range(2))
        context, page, problems = logged_in(browser)
        try:
            page.clock.install()  # the page's timers on a clock the test moves on (time runs on as usual besides)
            page.goto(f"{base}/#session={sid}")
            rows = {j["job_id"]: page.locator(f"#job-list li.job[data-job='{j['job_id']}']") for j in (first, second)}
            rows[first["job_id"]].locator(".stage", has_text="a.wav · queued · next").wait_for()
            rows[second["job_id"]].locator(".stage", has_text="a.wav · queued · 1 ahead").wait_for()
            # the job ahead goes (canceled elsewhere): the waiting row reads its new place without a reload
            assert api.delete(f"/jobs/{first['job_id']}").status_code == 202
            # the row's next read of its place (every PLACE_REFRESH_MS, 5 s, web/js/jobs.js), now rather than up to 5 s
            # on (the stream's own place events, every PLACE_SECONDS, are tests/test_queue_position.py's)
            page.clock.fast_forward(PLACE_REFRESH_MS)
            rows[second["job_id"]].locator(".stage", has_text="a.wav · queued · next").wait_for(timeout=20_000)
            assert problems == [], problems
        finally:
            context.close()
