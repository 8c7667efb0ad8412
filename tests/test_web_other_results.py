"""The results no listed file shows, in a real browser (Debian's headless Chromium driven by Playwright, against the
live test service): a deleted upload's results stay in the session (the API keeps them on purpose), but the page
had no way left to reach them, its Files panel listing uploads only. "Other results" in Files lists them, and those
of jobs that read no one file, each a download link."""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in
from tests.conftest import USER
from tests.test_web_access import violations
from tests.web_results import pitch_of, put_results


@pytest.mark.needs_chromium
def test_a_deleted_files_results_are_listed_and_downloaded_from_the_page(
        browser, server, client, settings, session_id, audio_dir, artifacts):
    from playwright.sync_api import expect

    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload, user_session_dir

    for name, hz in (("gone.wav", 440), ("kept.wav", 330), ("my_kept.wav", 220)):
        assert upload(client, session_id, write(audio_dir / name, sine(hz, 1.0))).status_code == 201
    put_results(settings, session_id, "gone.wav", pitch_of(1.0), stems=("harmonic",))
    put_results(settings, session_id, "kept.wav", pitch_of(1.0))
    put_results(settings, session_id, "my_kept.wav", pitch_of(1.0))
    results = user_session_dir(settings, USER, session_id) / "results"
    (results / "compare_0123456789ab.json").write_text("{}")  # a comparison's: it read no one file
    context, page, problems = logged_in(browser)
    other = page.locator("#other-results")
    links = page.locator("#other-results-list a")
    try:
        page.goto(f"{server}/#session={session_id}&file=gone.wav")
        page.locator("#fact-key .value", has_text="C major").wait_for()
        expect(other.locator("summary")).to_have_text("Other results (1)")
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name="Delete file gone.wav", exact=True).click()
        said = "gone.wav deleted. Its results stay under “Other results” in Files."
        page.locator("#notice", has_text=said).wait_for()
        expect(other.locator("summary")).to_have_text("Other results (3)")

        other.locator("summary").focus()  # opened by keyboard; the listed files' results are not among them
        page.keyboard.press("Enter")
        expect(links).to_have_text(["compare_0123456789ab.json", "harmonic_gone.wav", "pitch_gone.json"])
        for width, height in ((360, 740), (1440, 900)):
            page.set_viewport_size({"width": width, "height": height})
            other.screenshot(path=artifacts / f"other-results-{width}.png")
        assert violations(page) == []
        with page.expect_download() as download:
            page.get_by_role("link", name="harmonic_gone.wav", exact=True).click()
        assert download.value.suggested_filename == "harmonic_gone.wav"
        assert download.value.path().read_bytes() == (results / "harmonic_gone.wav").read_bytes()

        # read again (back to the tab, another result meanwhile): still open, the keyboard still on its link
        (results / "pitch_gone.txt").write_text("Key: C major\n")
        page.get_by_role("link", name="pitch_gone.json", exact=True).focus()
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        expect(other.locator("summary")).to_have_text("Other results (4)")
        expect(other).to_have_attribute("open", "")
        expect(page.get_by_role("link", name="pitch_gone.json", exact=True)).to_be_focused()

        # a deleted my_kept.wav's results are its own, not kept.wav's (pitch_my_kept.json ends in _kept.json too)
        assert client.delete(f"/sessions/{session_id}/files/my_kept.wav").status_code == 200
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        expect(links).to_have_text(["compare_0123456789ab.json", "harmonic_gone.wav", "pitch_gone.json",
                                    "pitch_gone.txt", "pitch_my_kept.json"])
        assert "pitch_kept.json" in [f["name"] for f in client.get(f"/sessions/{session_id}").json()["results"]]
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_deleted_uploads_results_are_its_own_not_those_of_an_upload_its_name_ends_with(
        browser, server, client, settings, session_id, audio_dir):
    """x.wav and my_x.wav, each with its pitch, stems and an audio LLM's analysis: my_x.wav deleted, its results are
    "Other results" and x.wav's are not. The page had taken `analysis_<model>_<task>_my_x.json` for x.wav's (it ends
    in `_x.json`, its start an `analysis_…`) and hidden it: the server now says which upload each is of."""
    from playwright.sync_api import expect

    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload, user_session_dir

    for name, hz in (("x.wav", 440), ("my_x.wav", 330)):
        assert upload(client, session_id, write(audio_dir / name, sine(hz, 1.0))).status_code == 201
        put_results(settings, session_id, name, pitch_of(1.0), stems=("vocals", "no_drums"))
    results = user_session_dir(settings, USER, session_id) / "results"
    for stem in ("x", "my_x"):  # what worker/audio_llm/files.py result_names names them
        (results / f"analysis_gemma-3n-E2B_analyze_{stem}.json").write_text("{}")
        (results / f"analysis_gemma-3n-E2B_analyze_{stem}.txt").write_text("")
    context, page, problems = logged_in(browser)
    other = page.locator("#other-results")
    try:
        page.goto(f"{server}/#session={session_id}&file=my_x.wav")
        page.locator("#fact-key .value", has_text="C major").wait_for()
        expect(other).to_be_hidden()  # every result is a listed file's
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name="Delete file my_x.wav", exact=True).click()
        said = "my_x.wav deleted. Its results stay under “Other results” in Files."  # keepsResultsOf: they are
        page.locator("#notice", has_text=said).wait_for()
        other.locator("summary").click()
        expect(page.locator("#other-results-list a")).to_have_text([
            "analysis_gemma-3n-E2B_analyze_my_x.json", "analysis_gemma-3n-E2B_analyze_my_x.txt", "no_drums_my_x.wav",
            "pitch_my_x.json", "vocals_my_x.wav"])
        # x.wav's stay with it: its mixer has both its stems, two-stem run's no_drums among them
        page.locator("#file-list li.file[data-file='x.wav'] .file-open").click()
        for stem in ("vocals", "no_drums"):
            page.locator(f"#mixer table tr[data-stem='{stem}']").wait_for()
        assert not problems, problems
    finally:
        context.close()
