"""The Jobs box of the web page shows whole rows, in a real browser (Debian's headless Chromium driven by
Playwright, against the live test service): it was 11rem tall while its rows had grown a method line, so about 3.5
rows fitted, the fourth was cut in half, and four ended rows read "scroll for the rest" for a few pixels hidden.
"""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in
from tests.conftest import USER, queued_record

# each row against the list's visible box: "in" (wholly seen), "out" (wholly scrolled away) or "cut"
ROWS_SEEN = """() => {
  const list = document.querySelector('#job-list');
  const box = list.getBoundingClientRect();
  const top = box.top + list.clientTop, bottom = top + list.clientHeight;
  return [...list.querySelectorAll('li.job')].map((li) => {
    const r = li.getBoundingClientRect();
    if (r.top >= top - 0.5 && r.bottom <= bottom + 0.5) return 'in';
    if (r.bottom <= top + 0.5 || r.top >= bottom - 0.5) return 'out';
    return 'cut';
  });
}"""


def ended_separations(app, client, settings, session_id: str, name: str, n: int) -> None:
    """`n` REPET separations of `name`, queued with no message and canceled: ended rows with a method line."""
    for _ in range(n):
        job = queued_record(app, owner=USER, job_type="demucs", session_id=session_id, queue=settings["CPU_QUEUE"],
                            task="music_analyzer.demucs",
                            params={"files": [name], "batch": False, "options": {"model": "repet"}})
        assert client.delete(f"/jobs/{job['job_id']}").status_code == 202


def rows_when_shown(page, n: int) -> list[str]:
    page.wait_for_function("(n) => document.querySelectorAll('#job-list li.job.canceled .job-method').length === n",
                           arg=n)
    return page.evaluate(ROWS_SEEN)


@pytest.mark.needs_chromium
def test_the_jobs_box_shows_whole_rows_and_says_scroll_only_when_rows_are_hidden(
        app, browser, server, client, settings, session_id, audio_dir, artifacts):
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "rows.wav", sine(440, 0.5))).status_code == 201
    ended_separations(app, client, settings, session_id, "rows.wav", 4)
    context, page, problems = logged_in(browser)
    count = page.locator("#jobs-count")
    try:
        for width, height in ((1440, 900), (360, 740)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{server}/#session={session_id}")
            assert rows_when_shown(page, 4) == ["in"] * 4, width  # the fourth had been cut in half
            assert count.inner_text() == "4 jobs, newest first", width  # no cue: nothing is hidden
            page.locator("#job-list").screenshot(path=artifacts / f"jobs-box-4-{width}.png")
        ended_separations(app, client, settings, session_id, "rows.wav", 3)
        for width, height in ((1440, 900), (360, 740)):
            page.set_viewport_size({"width": width, "height": height})
            page.reload()
            seen = rows_when_shown(page, 7)
            assert "cut" not in seen and seen.count("in") >= 3 and "out" in seen, (width, seen)
            assert seen == sorted(seen), seen  # the newest on top, those scrolled away below
            assert count.inner_text() == "7 jobs, newest first; scroll for the rest", width
            page.screenshot(path=artifacts / f"jobs-box-7-{width}.png", full_page=width == 360)
            # the window narrowed with the page open: the box is fitted again, to whole rows
            page.set_viewport_size({"width": 1440 if width == 360 else 360, "height": 800})
            page.wait_for_function(f"() => !({ROWS_SEEN})().includes('cut')")
        assert not problems, problems
    finally:
        context.close()
