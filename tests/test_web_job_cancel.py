"""A queued job canceled from the page's Jobs list, or elsewhere, reads canceled on the page: in a real browser
(Debian's headless Chromium driven by Playwright) against an app on queues of its own that no worker consumes, so
its jobs certainly stay queued; real HTTP, real Celery messages in the test session's valkey.

The page follows at most three job streams at once (MAX_STREAMS in web/js/api.js: a browser opens six connections to
a host); the others wait for a free one. A stranger's fourth job, canceled with its Cancel, was canceled on the
server, but its row went on reading "queued" with its Cancel for minutes: the row waited for its stream's word. The
Cancel's answer now ends the row, and a queued row's read of its place (every 5 s) ends it when it was canceled
elsewhere.
"""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in
from tests.conftest import Client, serving
from tests.test_fair_queue import A, session_with_tone
from tests.test_web_queue_place import PLACE_REFRESH_MS

MAX_STREAMS = 3  # job streams the page keeps open at once (web/js/api.js)


@pytest.mark.needs_chromium
def test_queued_jobs_without_an_open_stream_read_canceled(browser, own_queues, tmp_path):
    from app import create_app

    app = create_app(own_queues)
    with app.test_client() as wc:
        sid = session_with_tone(wc, A, tmp_path, "c.wav")
    with serving(app) as base:
        api = Client(base)
        jobs = [api.post(f"/process/features/{sid}", json={"file": "c.wav", "picture": False}).json()
                for _ in range(MAX_STREAMS + 2)]
        context, page, problems = logged_in(browser)
        try:
            page.clock.install()  # the page's timers on a clock the test moves on (time runs on as usual besides)
            page.goto(f"{base}/#session={sid}")
            rows = [page.locator(f"#job-list li.job[data-job='{j['job_id']}']") for j in jobs]
            for row in rows:
                row.locator(".stage", has_text="c.wav · queued").wait_for()
            # the two newest: their streams wait for a free connection (the oldest three hold them)
            newest, next_newest = rows[-1], rows[-2]

            next_newest.get_by_role("button", name="Cancel Features picture of c.wav").click()
            next_newest.locator(".state", has_text="canceled").wait_for()
            assert next_newest.get_by_role("button").count() == 0
            assert api.get(f"/jobs/{jobs[-2]['job_id']}").json()["state"] == "canceled"

            assert api.delete(f"/jobs/{jobs[-1]['job_id']}").status_code == 202  # canceled elsewhere
            page.clock.fast_forward(PLACE_REFRESH_MS)  # the row's next read of its place, now
            newest.locator(".state", has_text="canceled").wait_for(timeout=20_000)
            assert newest.get_by_role("button").count() == 0
            for row in rows[:-2]:
                assert row.locator(".state").inner_text() == "queued"
            assert problems == [], problems
        finally:
            context.close()


@pytest.mark.needs_chromium
def test_a_queued_rows_words_are_whole_on_a_phone(browser, own_queues, tmp_path):
    """At 360 px a stranger's queued row read "speech.wav · queue…": its place and its start were cut off."""
    from app import create_app

    name = "a-recording-with-a-long-name.wav"
    app = create_app(own_queues)
    with app.test_client() as wc:
        sid = session_with_tone(wc, A, tmp_path, name)
    with serving(app) as base:
        api = Client(base)
        jobs = [api.post(f"/process/features/{sid}", json={"file": name, "picture": False}).json() for _ in range(2)]
        context, page, problems = logged_in(browser)
        try:
            page.set_viewport_size({"width": 360, "height": 740})
            page.goto(f"{base}/#session={sid}")
            # once the row is laid out, its words end inside its box (cut, they ran on past it under an ellipsis)
            past = page.wait_for_function("""([selector, words]) => {
                const e = document.querySelector(selector);
                const box = e?.getBoundingClientRect();
                if (!box?.width || !e.textContent.includes(words)) return null;
                const r = document.createRange();
                r.selectNodeContents(e);
                return { words: r.getBoundingClientRect().right, box: box.right, text: e.textContent };
            }""", arg=[f"#job-list li.job[data-job='{jobs[1]['job_id']}'] .stage", f"{name} · queued · 1 ahead"]
            ).json_value()
            assert past["words"] <= past["box"] + 1, past
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            assert problems == [], problems
        finally:
            context.close()
