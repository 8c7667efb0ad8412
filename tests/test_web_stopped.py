"""A stopped LLM analysis on the page, in a real browser (Debian's Chromium, Playwright) against the live test
service: an analysis stopped by its time limit (or canceled) keeps the text it had written (tests/test_time_limit_
partial.py), but the page showed it nowhere: the track's LLM panel read "Run “Lyrics” or “Audio LLM” on the file"
(it showed succeeded jobs' results only), and its partial_analysis_... files, once the upload was deleted, sat
among "Other results" like finished ones. Both now say it in words: stopped, partial, and why."""

from __future__ import annotations

import re

import pytest

from tests.browser_page import logged_in
from tests.test_time_limit_partial import (  # noqa: F401  (smollm2_resident: a fixture)
    analysis_stopped_by_its_limit,
    smollm2_resident,
)
from tests.test_web_access import violations

MARK = "Stopped: partial (time limit): the text written before the server’s time limit stopped the job"


@pytest.mark.needs_chromium
@pytest.mark.usefixtures("smollm2_resident")  # a fixture (test_time_limit_partial.py): its load is not the job's
def test_an_analysis_stopped_by_its_time_limit_is_shown_marked_partial(browser, server, client, session_id,
                                                                      audio_dir, artifacts, app, monkeypatch):
    from playwright.sync_api import expect

    job = analysis_stopped_by_its_limit(client, app, monkeypatch, session_id, audio_dir)
    assert job["result"]["partial"] is True and job["result"]["finish_reason"] == "time_limit", job
    written = job["result"]["analysis_summary"].strip()
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=hum.wav")
        article = page.locator("#analysis article")
        expect(article.locator(".stopped-mark")).to_have_text(MARK)
        expect(article.locator("h3")).to_have_text("Audio LLM (smollm2-135m) · stopped, partial")
        assert written.split("\n\n")[0].strip() in (article.inner_text() or "")  # the text it had written
        # and its job's row says so beside its error, which is as it was
        expect(page.locator("#job-list li.job.failed .stage")).to_have_text(
            f"{job['error']['message']} · the text written so far is kept (partial)")  # stopped(its limit)
        page.locator("#analysis").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "analysis-stopped.png"), full_page=True)
        assert violations(page) == []

        # the upload deleted: its partial files are among "Other results", each marked, with why
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name="Delete file hum.wav", exact=True).click()
        other = page.locator("#other-results")
        expect(other.locator("summary")).to_have_text("Other results (2)")
        other.locator("summary").click()
        expect(page.locator("#other-results-list a")).to_have_text(sorted(job["result"]["files"]))
        expect(page.locator("#other-results-list .stopped-mark")).to_have_text(
            [re.compile(r"^\W*Stopped: partial \(time limit\)$")] * 2)
        other.screenshot(path=artifacts / "other-results-stopped.png")
        assert not problems, problems
    finally:
        context.close()
