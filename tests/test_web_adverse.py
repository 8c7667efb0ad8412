"""The web page under adverse conditions, in a real browser (Debian's headless Chromium driven by Playwright, against
the live test service): a slow link, a front answering 502 while the server restarts, a 375 px phone, a 25-minute
track's timeline, and two tabs of one session. What a stranger's trial found: results held back until the whole
track had downloaded, job rows frozen at "0 %" after a restart, a page wider than the phone, a timeline that was
one black block, a playhead moved out of sight, and a second tab that never learnt of new files or jobs.
"""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in
from tests.conftest import USER, queued_record, serving
from tests.test_web_page import run_from_the_page
from tests.web_results import pitch_of, put_results


@pytest.mark.needs_chromium
def test_on_a_slow_link_the_results_come_before_the_waveform(browser, server, client, settings, session_id,
                                                           audio_dir):
    """On a 100 KB/s link a stranger's 6 MB track showed its key and tempo after 105 s: the page waited for the whole
    file to download and decode for the waveform, the panel saying "Run “Key, tempo…”" and the status "Add audio on
    the left" meanwhile."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "slow.wav", sine(330, 8.0))).status_code == 201
    put_results(settings, session_id, "slow.wav", pitch_of(8.0))
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/")
        page.locator("#session-list li").first.wait_for()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        # 20 KB/s: the 350 KB upload takes the player and the waveform half a minute; the results are a few KB
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 100, "downloadThroughput": 20000,
                                                      "uploadThroughput": 20000})
        page.evaluate(f"() => {{ location.hash = 'session={session_id}&file=slow.wav'; }}")
        page.locator("#fact-key .value", has_text="C major").wait_for(timeout=15000)
        assert page.locator("#track-status").inner_text().startswith("Loading the waveform")
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                      "uploadThroughput": -1})
        page.wait_for_function("() => !document.querySelector('#track-status').textContent.includes('Loading')",
                               timeout=60000)
        assert page.locator("#track-status").inner_text() == ""  # drawn: nothing to say
        assert not problems, problems
    finally:
        context.close()


class Front:
    """What nginx does while the server restarts: 502 for the job routes (`/jobs/...`, the event streams with
    `events_only`) until `down` is False; everything else reaches the app."""

    def __init__(self, app):
        self.app = app
        self.down = True
        self.events_only = False

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        if self.down and path.startswith("/jobs/") and (path.endswith("/events") or not self.events_only):
            start_response("502 Bad Gateway", [("Content-Type", "text/html")])
            return [b"<html><body><h1>502 Bad Gateway</h1></body></html>"]
        return self.app(environ, start_response)


@pytest.mark.needs_chromium
def test_a_job_row_follows_its_job_again_once_the_server_is_back(app, browser, client, settings, session_id,
                                                                audio_dir):
    """A stranger restarted the server with two jobs running: the front answered 502 until the API was back, the
    page read the job once, failed, and gave up; the rows read "0 % starting" with a Cancel button long after both
    had succeeded. The page now says the server is away and opens the stream again until it answers."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "restart.wav", sine(440, 0.5))).status_code == 201
    jobs = [queued_record(app, owner=USER, job_type="features", session_id=session_id, queue=settings["CPU_QUEUE"],
                          task="music_analyzer.features", params={"files": ["restart.wav"], "batch": False,
                                                                  "options": {}}) for _ in range(2)]
    front = Front(app)
    with serving(front) as base:
        context, page, _ = logged_in(browser)
        try:
            page.goto(f"{base}/#session={session_id}")
            page.locator("#notice", has_text="The server is not answering").wait_for()
            rows = [page.locator(f"#job-list li.job[data-job='{job['job_id']}']") for job in jobs]
            # the API back, the events server still starting: the record is read, and the stream opened again
            front.events_only = True
            for row in rows:
                row.locator(".state", has_text="queued").wait_for()
            page.locator("#notice").wait_for(state="hidden")
            front.down = False
            for job in jobs:
                assert client.delete(f"/jobs/{job['job_id']}").status_code == 202
            for row in rows:
                row.locator(".state", has_text="canceled").wait_for(timeout=40000)
            assert page.locator("#job-list button.cancel").count() == 0
        finally:
            context.close()


@pytest.mark.needs_chromium
def test_a_phone_never_scrolls_sideways(browser, server, client, settings, session_id, audio_dir):
    """At 375 px a stranger's page was 425 px wide: the stems mixer widened the results' column (1fr is at least
    its content), and everything scrolled sideways."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "phone.wav", sine(440, 1.0))).status_code == 201
    put_results(settings, session_id, "phone.wav", pitch_of(1.0), stems=("harmonic", "percussive"))
    context, page, problems = logged_in(browser)
    try:
        page.set_viewport_size({"width": 375, "height": 800})
        page.goto(f"{server}/#session={session_id}&file=phone.wav")
        page.locator("#mixer table tr[data-stem='percussive']").wait_for()
        page.locator("#fact-key .value", has_text="C major").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        # and the mixer fits: its Download links are on screen, not scrolled off inside its box
        assert page.evaluate("(() => { const m = document.querySelector('#mixer');"
                             " return m.scrollWidth <= m.clientWidth; })()")
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_long_tracks_timeline_is_readable_and_follows_the_keys(browser, server, client, settings, session_id,
                                                                audio_dir):
    """A stranger's 25-minute track: its 689 bar lines drew the whole view as one black block, and End on the
    zoomed, paused timeline moved the playhead to 25:00 while the view stayed on bars 1-60."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    # the upload is short (the suite's limit is 2 minutes); the timeline is as long as its analysis says
    assert upload(client, session_id, write(audio_dir / "long.wav", sine(440, 2.0))).status_code == 201
    put_results(settings, session_id, "long.wav", pitch_of(1500.0, chords=False))
    # End needs the player's own length: 100 s, at 8 kHz to keep the upload small
    reach = write(audio_dir / "reach.wav", sine(440, 100.0, sr=8000), sr=8000)
    assert upload(client, session_id, reach).status_code == 201
    put_results(settings, session_id, "reach.wav", pitch_of(100.0))
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=long.wav")
        page.locator("#fact-beats .value", has_text="688 bars").wait_for()
        page.wait_for_function("() => !document.querySelector('#track-status').textContent.includes('Loading')")
        # the share of the empty melody lane's pixels that are bar lines, across the canvas
        covered = page.evaluate("""(() => {
            const c = document.querySelector('#timeline');
            const y = Math.round(220 * c.height / c.clientHeight);
            const row = c.getContext('2d').getImageData(0, y, c.width, 1).data;
            let dark = 0;
            for (let i = 0; i < row.length; i += 4) if (row[i] + row[i + 1] + row[i + 2] < 3 * 128) dark += 1;
            return dark / c.width;
        })()""")
        assert covered < 0.25, covered  # it was 0.65: a line every 1.5 px

        page.locator("#file-list li.file[data-file='reach.wav'] .file-open").click()
        page.locator("#fact-beats .value", has_text="46 bars").wait_for()
        page.wait_for_function("() => document.querySelector('#player').duration > 99")
        page.locator("#timeline").focus()
        for _ in range(6):
            page.keyboard.press("+")
        page.keyboard.press("End")
        page.locator("#now", has_text="1:40.0").wait_for()
        # the readout names the part in view, and it holds the playhead
        page.wait_for_function("() => document.querySelector('#zoom-readout').textContent.endsWith('–1:40')")
        page.keyboard.press("Home")
        page.wait_for_function("() => / visible, 0:00–0:0\\d$/"
                               ".test(document.querySelector('#zoom-readout').textContent)")
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_second_tab_of_the_session_learns_of_its_files_and_jobs(browser, server, client, session_id, audio_dir):
    """A stranger had the session open in two tabs: a file uploaded and a job started in one never showed in the
    other until it was reloaded."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "first.wav", sine(330, 0.5))).status_code == 201
    second = write(audio_dir / "second.wav", sine(550, 0.5))
    context, one, problems = logged_in(browser)
    other = context.new_page()
    try:
        for page in (one, other):
            page.goto(f"{server}/#session={session_id}&file=first.wav")
            page.locator("#file-list li.file[data-file='first.wav']").wait_for()
        one.locator("#file-input").set_input_files(str(second))
        other.locator("#file-list li.file[data-file='second.wav']").wait_for(timeout=10000)
        run_from_the_page(one, "second.wav", tick=["Features picture"], untick=["Key, tempo, chords, melody"])
        other.locator("#job-list li.job", has_text="second.wav").wait_for(timeout=10000)
        assert not problems, problems
    finally:
        context.close()
