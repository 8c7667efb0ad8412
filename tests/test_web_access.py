"""The web page used without a mouse or without sight, in a real browser (Debian's headless Chromium driven by
Playwright, against the live test service): axe-core (vendored in tests/vendor/axe-core, run offline) on each state
of the page, the keyboard's place kept when the file list is drawn again, what a screen reader is told of uploads
and jobs, and the transcript's words reached and played by keyboard.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser_page import logged_in
from tests.conftest import USER, queued_record
from tests.web_results import pitch_of, put_results

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


def violations(page) -> list[str]:
    """axe-core's violations on the page as it is now, one line each: rule, impact, where."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())  # evaluated by the driver: the page's CSP lets no inline script in
    found = page.evaluate("""async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
        .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')}`))""")
    return list(found)


def features_job(app, settings, session_id: str, name: str) -> dict:
    return queued_record(app, owner=USER, job_type="features", session_id=session_id, queue=settings["CPU_QUEUE"],
                         task="music_analyzer.features", params={"files": [name], "batch": False, "options": {}})


@pytest.mark.needs_chromium
def test_axe_finds_nothing_in_each_state_of_the_page(app, browser, server, client, settings, session_id, audio_dir):
    """A stranger's axe-core run: a <p> inside the facts' <dl> (the empty page, a session, an error), an empty
    heading over the stems' Download column, and a Jobs list that scrolls past five rows and, once its jobs had
    ended, held nothing a keyboard could reach it by."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "axe.wav", sine(440, 1.0))).status_code == 201
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/")
        page.locator("#session-list li").first.wait_for()
        assert violations(page) == [], "the empty page"

        page.goto(f"{server}/#session={session_id}&file=axe.wav")
        page.locator("#file-list li.file[data-file='axe.wav']").wait_for()
        assert violations(page) == [], "a session with a file"

        # 10 rows of one line: the box holds the whole rows that fit in 16rem, 8 such rows
        jobs = [features_job(app, settings, session_id, "axe.wav") for _ in range(10)]
        page.reload()
        page.locator("#job-list li.job").nth(9).wait_for()
        assert violations(page) == [], "jobs queued"
        for job in jobs:
            assert client.delete(f"/jobs/{job['job_id']}").status_code == 202
        page.wait_for_function("() => document.querySelectorAll('#job-list li.job.canceled').length === 10")
        assert page.evaluate("(() => { const l = document.querySelector('#job-list');"
                             " return l.scrollHeight > l.clientHeight; })()"), "the list scrolls"
        assert violations(page) == [], "jobs ended"

        put_results(settings, session_id, "axe.wav", pitch_of(1.0), stems=("harmonic", "percussive"))
        page.reload()
        page.locator("#mixer table").wait_for()
        page.locator("#fact-key .value", has_text="C major").wait_for()
        assert violations(page) == [], "results shown"

        page.evaluate("() => { location.hash = 'session=0-not-a-session-of-yours'; }")
        page.locator("#notice", has_text="does not exist").wait_for()
        assert violations(page) == [], "an error shown"
        assert not [p for p in problems if "404" not in p], problems
    finally:
        context.close()


def focused(page) -> str:
    return page.evaluate("() => { const a = document.activeElement;"
                         " return `${a.closest('li.file')?.dataset.file ?? ''} ${a.tagName} ${a.name || ''}`.trim(); }")


@pytest.mark.needs_chromium
def test_the_keyboards_place_survives_the_file_list_being_drawn_again(app, browser, server, client, settings,
                                                                      session_id, audio_dir):
    """Enter on a file's button opened it and dropped the focus to the page's start (the list is drawn anew), so the
    next Tab went back to the first file; a job ending while a box was being ticked did the same."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    for name, hz in (("a.wav", 330), ("b.wav", 440)):
        assert upload(client, session_id, write(audio_dir / name, sine(hz, 0.5))).status_code == 201
    job = features_job(app, settings, session_id, "a.wav")
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=a.wav")
        page.locator("#job-list li.job .state", has_text="queued").wait_for()
        page.locator("#file-list li.file[data-file='b.wav'] .file-open").focus()
        page.keyboard.press("Enter")
        page.locator("#file-list li.file.current[data-file='b.wav']").wait_for()
        assert focused(page) == "b.wav BUTTON"
        page.keyboard.press("Tab")  # to its "Analyse…", open now that it is the selected file
        assert focused(page) == "b.wav SUMMARY"
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert focused(page) == "b.wav INPUT features"
        page.keyboard.press("Space")  # unticked
        # a job's end reads the session again and draws the list anew, under the user's hand
        row = page.locator("#file-list li.file[data-file='b.wav']").element_handle()
        assert client.delete(f"/jobs/{job['job_id']}").status_code == 202
        page.locator("#job-list li.job .state", has_text="canceled").wait_for()
        page.wait_for_function("(row) => !row.isConnected", arg=row)  # drawn anew
        assert focused(page) == "b.wav INPUT features"
        assert not page.locator("#file-list li.file[data-file='b.wav']").get_by_label(
            "Features picture", exact=True).is_checked()
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_screen_reader_is_told_of_uploads_and_of_jobs_ending(app, browser, server, client, settings, session_id,
                                                              audio_dir):
    """The upload list and the job rows changed silently: a stranger's screen reader said nothing when an upload
    was stored or refused, or when a job ended. A polite live region now says each."""
    from tests.audio_synth import sine, write

    tone = write(audio_dir / "told.wav", sine(440, 0.5))
    fake = audio_dir / "fake.wav"
    fake.write_text("not audio\n" * 50)
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}")
        page.locator("#session-title", has_text=session_id).wait_for()
        assert page.locator("#announcer").get_attribute("aria-live") == "polite"
        page.locator("#file-input").set_input_files([str(tone), str(fake)])
        announcer = page.locator("#announcer")
        announcer.locator("p", has_text="told.wav uploaded").wait_for()
        announcer.locator("p", has_text="fake.wav was not uploaded").wait_for()
        job = features_job(app, settings, session_id, "told.wav")
        page.reload()
        page.locator("#job-list li.job .state", has_text="queued").wait_for()
        assert client.delete(f"/jobs/{job['job_id']}").status_code == 202
        announcer.locator("p", has_text="Features picture of told.wav: canceled").wait_for()
        assert not [p for p in problems if "415" not in p and "422" not in p], problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_the_transcripts_words_are_reached_and_played_by_keyboard(browser, server, client, settings, session_id,
                                                                  audio_dir):
    """"Click a word to jump there": a stranger without a mouse could not reach a word at all (every word was out of
    the Tab order). The transcript is one Tab stop; the arrow keys move between its words, Enter plays from one."""
    import json

    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload, user_session_dir

    assert upload(client, session_id, write(audio_dir / "said.wav", sine(330, 3.0))).status_code == 201
    words = [{"start": 0.2 + 0.6 * i, "end": 0.6 + 0.6 * i, "word": w} for i, w in enumerate(["one", "two", "three"])]
    (user_session_dir(settings, USER, session_id) / "results" / "transcript_said.json").write_text(json.dumps(
        {"language": "en", "text": "one two three", "warnings": [],
         "segments": [{"start": 0.2, "end": 1.8, "text": "one two three", "words": words}]}))
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=said.wav")
        page.locator("#transcript .word").nth(2).wait_for()
        page.wait_for_function("() => document.querySelector('#player').readyState >= 1")
        assert page.locator("#transcript [tabindex='0']").count() == 1  # one Tab stop, at the first word
        page.locator("#timeline").focus()  # the last control before the transcript, with no other results
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "one"
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.activeElement.textContent") == "three"
        page.keyboard.press("Enter")
        page.wait_for_function("() => Math.abs(document.querySelector('#player').currentTime - 1.4) < 0.05")
        page.locator("#transcript .word.current", has_text="three").wait_for()
        assert not problems, problems
    finally:
        context.close()
