"""The stems mixer on a 320 px and a 360 px phone and a 1024 px screen, in a real browser (Debian's headless
Chromium driven by Playwright, against the live test service): the mixer may scroll sideways, but a stranger's every
Download link was cut off at its right edge, on the phone repet's "accompaniment" having widened the channels'
column, on the 1024 px screen the results' half column being too narrow for the mixer; on a 320 px phone the mixer's
table was then still 11 px wider than the mixer, every Download partly out of sight."""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in
from tests.test_web_access import violations
from tests.web_results import pitch_of, put_results

# what the separations name their stems: repet's, hpss's and a two-stem Demucs run's
STEMS = ("vocals", "accompaniment", "harmonic", "percussive", "no_vocals")


@pytest.mark.needs_chromium
def test_each_stems_download_is_in_sight_on_a_phone_and_a_small_laptop(
        browser, server, client, settings, session_id, audio_dir, artifacts):
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "phone.wav", sine(440, 1.0))).status_code == 201
    put_results(settings, session_id, "phone.wav", pitch_of(1.0), stems=STEMS)
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=phone.wav")
        for stem in STEMS:
            page.locator(f"#mixer table tr[data-stem='{stem}']").wait_for()
        for width, height in ((320, 640), (360, 740), (1024, 768)):
            page.set_viewport_size({"width": width, "height": height})
            # the mixer's box where it was drawn, not scrolled sideways by anything
            page.locator("#mixer th[scope=row]", has_text="Original mix").scroll_into_view_if_needed()
            page.locator("#mixer").screenshot(path=artifacts / f"mixer-{width}.png")
            shown = page.evaluate("""() => {
                const box = document.querySelector('#mixer').getBoundingClientRect();
                return [...document.querySelectorAll('#mixer a[download]')].map((a) => {
                    const r = a.getBoundingClientRect();
                    return [a.getAttribute('aria-label'), r.width > 0 && r.left >= box.left && r.right <= box.right];
                });
            }""")
            assert sorted(shown) == sorted([f"Download {stem}", True] for stem in STEMS), (width, shown)
            assert page.evaluate("document.querySelector('#mixer').scrollLeft") == 0
            # nor does the mixer itself scroll sideways (its table is no wider than it)
            assert page.evaluate("(m => m.scrollWidth <= m.clientWidth)(document.querySelector('#mixer'))"), width
            assert page.evaluate("document.documentElement.scrollWidth") <= width  # nor does the page scroll sideways
            assert violations(page) == [], width
            if width == 320:  # and a Download there is one a finger reaches: a real click on it downloads the stem
                with page.expect_download() as download:
                    page.get_by_role("link", name="Download accompaniment", exact=True).click()
                assert download.value.suggested_filename == "accompaniment_phone.wav"
        assert not problems, problems
    finally:
        context.close()
