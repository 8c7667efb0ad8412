"""The timeline's "now" in a real browser (Debian's headless Chromium driven by Playwright, against the live test
service, a real pitch analysis of a rendered groove).

A stranger playing neverball's track1 saw two red lines on the timeline, 23 px apart: the playhead, and the line of
the bar it was in, drawn in the playhead's own red and width. Which one was "now" could not be told. The current
bar's line is now amber (the family of the current beat and chord), the playhead alone red.
"""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in
from tests.test_api_sessions import upload
from tests.test_web_page import groove

RED_RUNS = """() => {
    const canvas = document.querySelector('#timeline');
    const dpr = canvas.width / canvas.clientWidth;
    const row = canvas.getContext('2d').getImageData(0, Math.round(146 * dpr), canvas.width, 1).data;
    let runs = 0, inside = false;  // stretches of the playhead's red along the row between the wave and chord lanes
    for (let x = 0; x < canvas.width; x++) {
        const [r, g, b] = row.slice(4 * x, 4 * x + 3);
        const red = r > 180 && g < 90 && b < 90;
        if (red && !inside) runs++;
        inside = red;
    }
    return runs;
}"""


@pytest.mark.needs_chromium
def test_only_the_playhead_is_red_on_the_timeline(browser, server, client, session_id, audio_dir):
    assert upload(client, session_id, groove(audio_dir / "now.wav")).status_code == 201
    job = client.wait_job(client.post(f"/process/pitch/{session_id}", json={"file": "now.wav"}).json()["job_id"])
    assert job["state"] == "succeeded", job
    bar = next(i for i, t in enumerate(job["result"]["downbeat_times"]) if t > 3.0)
    start, end = job["result"]["downbeat_times"][bar:bar + 2]
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=now.wav")
        page.locator("#fact-key").wait_for()
        page.evaluate("(t) => { document.querySelector('#player').currentTime = t; }", start + 0.6 * (end - start))
        page.wait_for_function("(bar) => document.querySelector('#now').dataset.bar === String(bar)", arg=bar)
        assert page.evaluate(RED_RUNS) == 1  # the playhead; the bar's own line had been a second red one
        assert not problems, problems
    finally:
        context.close()
