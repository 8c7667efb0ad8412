"""The web page under adverse conditions, in a real browser (Debian's headless Chromium driven by Playwright, against
the live test service). What a stranger's trial found: on a slow link, results held back until the whole track had
downloaded.
"""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in
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
