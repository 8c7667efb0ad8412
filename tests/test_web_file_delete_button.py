"""Deleting one file of the open session from the web page, in a real browser (Debian's headless Chromium driven by
Playwright, against the live test service): the API had `DELETE /sessions/<id>/files/<name>`, the page only a
"Delete session". Each file's "Delete file" asks first (the browser's confirm), deletes the upload and draws the
session again (its files, the track shown, the Sessions row); a file a queued job reads is refused by the server,
whose words the page shows, and stays.
"""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in
from tests.test_web_access import features_job
from tests.web_results import pitch_of, put_results


@pytest.mark.needs_chromium
def test_a_file_is_deleted_by_keyboard_once_confirmed_and_the_page_shows_the_rest(
        browser, server, client, settings, session_id, audio_dir, artifacts):
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    for name, hz in (("gone.wav", 440), ("kept.wav", 330)):
        assert upload(client, session_id, write(audio_dir / name, sine(hz, 1.0))).status_code == 201
    put_results(settings, session_id, "gone.wav", pitch_of(1.0))
    context, page, problems = logged_in(browser)
    asked: list[str] = []
    try:
        for width, height in ((360, 740), (1440, 900)):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{server}/#session={session_id}&file=gone.wav")
            page.locator("#fact-key .value", has_text="C major").wait_for()  # its results shown
            page.locator("#file-list li.file.current[data-file='gone.wav']").screenshot(
                path=artifacts / f"file-delete-{width}.png")
        button = page.get_by_role("button", name="Delete file gone.wav", exact=True)
        button.focus()
        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))  # not confirmed: nothing happens
        page.keyboard.press("Enter")
        assert page.locator("#file-list li.file[data-file='gone.wav']").count() == 1
        assert client.get(f"/sessions/{session_id}/files/gone.wav").status_code == 200

        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        page.keyboard.press("Enter")
        page.locator("#notice", has_text="gone.wav deleted.").wait_for()
        page.locator("#file-list li.file[data-file='gone.wav']").wait_for(state="detached")
        # the other file is open now, its track and results (none), and the keyboard is on it
        page.locator("#track-h", has_text="kept.wav").wait_for()
        page.locator("#summary-empty").wait_for()
        assert page.locator("#file-list li.file.current[data-file='kept.wav']").count() == 1
        assert page.evaluate("document.activeElement.closest('li.file')?.dataset.file") == "kept.wav"
        assert "file=kept.wav" in page.url
        page.locator(f"#session-list button.session[data-session='{session_id}']", has_text="1 file,").wait_for()
        session = client.get(f"/sessions/{session_id}").json()
        assert [f["name"] for f in session["files"]] == ["kept.wav"]
        assert "pitch_gone.json" in [f["name"] for f in session["results"]]  # the server keeps its results
        assert asked == [f"Delete gone.wav from session {session_id}? The results made from it stay in the session, "
                         "under “Other results” in Files. This cannot be undone."] * 2
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_file_a_queued_job_reads_is_not_deleted_and_the_page_says_why(
        app, browser, server, client, settings, session_id, audio_dir):
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "busy.wav", sine(440, 0.5))).status_code == 201
    job = features_job(app, settings, session_id, "busy.wav")  # queued with no message: it stays queued
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=busy.wav")
        page.locator(f"#job-list li.job[data-job='{job['job_id']}']").wait_for()
        page.once("dialog", lambda d: d.accept())
        button = page.get_by_role("button", name="Delete file busy.wav", exact=True)
        button.click()
        refusal = "'busy.wav' is read by 1 queued or running job(s); cancel them first"  # the server's words
        page.locator("#notice", has_text=refusal).wait_for()
        assert page.locator("#file-list li.file[data-file='busy.wav']").count() == 1
        assert client.get(f"/sessions/{session_id}/files/busy.wav").status_code == 200
        # canceled, the file can go: the refusal no longer stands
        assert client.delete(f"/jobs/{job['job_id']}").status_code == 202
        page.locator("#job-list li.job.canceled").wait_for()
        page.once("dialog", lambda d: d.accept())
        button.click()
        page.locator("#notice", has_text="busy.wav deleted.").wait_for()
        assert page.locator("#notice", has_text="cancel them first").count() == 0
        page.locator("#files-empty").wait_for()
        page.locator("#track-h", has_text="No file selected").wait_for()
        # the server's refusal is a console line of the browser's own (a 409 answer)
        assert [p for p in problems if "409" not in p] == [], problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_deleted_files_track_leaves_the_librarys_list_and_the_others_stay(browser, server, client, tmp_path):
    from tests.library_results import measured_songs
    from tests.test_web_library import list_tracks, open_library, rows_of

    sid = measured_songs(client, tmp_path)  # in-a.wav and in-c.wav, measured by real jobs
    context, page, problems = logged_in(browser)
    try:
        open_library(page, server, f"/#session={sid}&file=in-c.wav")
        list_tracks(page, tempo=("55", "65"))  # both, at half their tempo
        assert sorted(r[0] for r in rows_of(page, sid)) == ["in-a.wav", "in-c.wav"]
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name="Delete file in-c.wav", exact=True).click()
        page.locator("#library-tracks-status", has_text="in-c.wav was deleted: its track left the list.").wait_for()
        assert [r[0] for r in rows_of(page, sid)] == ["in-a.wav"]
        tracks = client.get("/library/tracks", params={"session_id": sid}).json()["tracks"]
        assert [t["filename"] for t in tracks] == ["in-a.wav"]  # as the server's library holds it
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_album_art_is_deleted_once_confirmed_and_refused_while_an_analysis_reads_it(
        app, browser, server, client, settings, session_id, audio_dir, artifacts):
    """A stranger's album art had no "Delete file" in the page (audio had): each image has one now, asking first,
    refused in the server's words while a queued analysis was given the image."""
    from playwright.sync_api import expect

    from tests.audio_synth import sine, write
    from tests.conftest import USER, queued_record
    from tests.test_album_art import cover
    from tests.test_api_sessions import upload
    from tests.test_web_access import violations

    assert upload(client, session_id, write(audio_dir / "sung.wav", sine(440, 0.5)), cover(audio_dir / "sleeve.png"),
                  cover(audio_dir / "back.png")).status_code == 201
    reader = queued_record(app, owner=USER, job_type="lyrics", session_id=session_id, queue=settings["GPU_QUEUE"],
                           task="music_analyzer.lyrics",
                           params={"files": ["sung.wav"], "batch": False, "options": {"image": "sleeve.png"}})
    context, page, problems = logged_in(browser)
    asked: list[str] = []
    try:
        page.set_viewport_size({"width": 360, "height": 740})
        page.goto(f"{server}/#session={session_id}&file=sung.wav")
        button = page.get_by_role("button", name="Delete file sleeve.png", exact=True)
        button.wait_for()
        page.locator("#file-list li.file.art").screenshot(path=artifacts / "art-delete-360.png")
        assert violations(page) == []
        page.set_viewport_size({"width": 1440, "height": 900})
        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))  # not confirmed: nothing happens
        button.click()
        assert client.get(f"/sessions/{session_id}/files/sleeve.png").status_code == 200

        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        button.click()
        refusal = "'sleeve.png' is read by 1 queued or running job(s); cancel them first"  # the server's words
        page.locator("#notice", has_text=refusal).wait_for()
        assert page.get_by_role("img", name="Album art sleeve.png").count() == 1

        assert client.delete(f"/jobs/{reader['job_id']}").status_code == 202
        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        button.focus()
        page.keyboard.press("Enter")
        page.locator("#notice", has_text="sleeve.png deleted.").wait_for()
        page.get_by_role("img", name="Album art sleeve.png").wait_for(state="detached")
        assert page.locator("#notice", has_text="cancel them first").count() == 0
        # the other image stays, and is what the analyses are offered; the keyboard is on its Delete file
        expect(page.get_by_label("Audio LLM analysis: album art").locator("option")).to_have_text(
            ["no album art", "with back.png"])
        expect(page.get_by_role("button", name="Delete file back.png", exact=True)).to_be_focused()
        assert [f["name"] for f in client.get(f"/sessions/{session_id}").json()["files"]] == ["back.png", "sung.wav"]
        assert asked == [f"Delete sleeve.png from session {session_id}? This cannot be undone."] * 3  # no results
        assert [p for p in problems if "409" not in p] == [], problems
    finally:
        context.close()
