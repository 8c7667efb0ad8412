"""The web page's states in a real browser (Debian's headless Chromium driven by Playwright, against the live test
service): a session that is not there, refused uploads and analyses, a track without a key, a recording's warnings,
a format the browser cannot play, a queued job canceled, and what was deleted elsewhere. The page used end to end
is tests/test_web_page.py.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from tests.browser_page import logged_in
from tests.conftest import USER, queued_record
from tests.test_web_page import run_from_the_page


@contextmanager
def queued_job_on_the_page(app, browser, server, client, session_id, audio_dir, settings):
    """A features job's record made without publishing it, so it is certainly still queued, and the page open on its
    session with the job's row read as queued: (job, row, problems)."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "tone.wav", sine(440, 0.5))).status_code == 201
    job = queued_record(
        app, owner=USER, job_type="features", session_id=session_id, queue=settings["CPU_QUEUE"],
        task="music_analyzer.features", params={"files": ["tone.wav"], "batch": False, "options": {}})
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}")
        row = page.locator(f"#job-list li.job[data-job='{job['job_id']}']")
        row.locator(".state", has_text="queued").wait_for()
        yield job, row, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_session_that_is_not_there_is_not_named_as_open(browser, server):
    """A stranger's bob opened alice's session link: the 404 notice showed, and the header still read its id."""
    context, page, _ = logged_in(browser)
    try:
        page.goto(f"{server}/#session=0123456789abcdef")
        page.locator("#notice").wait_for(state="visible")
        assert "0123456789abcdef" not in page.locator("#session-title").inner_text()
        assert page.locator("#session-title").inner_text() == "No session open"
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_refused_upload_and_a_keyless_track_read_as_what_they_are(browser, server, client, session_id, audio_dir):
    """A stranger saw a full progress bar beside a refused upload's error, and "no key 0 % sure"."""
    import numpy as np
    import soundfile as sf

    from tests.test_api_sessions import upload

    noise = audio_dir / "hiss.wav"
    sf.write(noise, (0.1 * np.random.default_rng(1).standard_normal(22050 * 6)).astype("float32"), 22050)
    assert upload(client, session_id, noise).status_code == 201
    job = client.wait_job(client.post(f"/process/pitch/{session_id}", json={"file": "hiss.wav"}).json()["job_id"])
    assert job["state"] == "succeeded" and job["result"]["key"]["tonic"] is None and not job["result"]["tempo_bpm"]
    fake = audio_dir / "fake.mp3"
    fake.write_text("not audio at all\n" * 100)
    context, page, _ = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=hiss.wav")
        page.locator("#fact-key .value", has_text="no key").wait_for()
        assert "sure" not in page.locator("#fact-key").inner_text()
        assert "sure" not in page.locator("#fact-tempo").inner_text()
        page.locator("#file-input").set_input_files(str(fake))
        refused = page.locator("#upload-list li.upload.failed")
        refused.wait_for()
        assert "not a decodable audio file" in refused.inner_text() and refused.locator("progress").count() == 0
        # its message under its name, as wide: it had taken the 6rem column its progress bar left, 6 lines of 2 words
        name, message = (refused.locator(sel).bounding_box() for sel in (".name", ".status"))
        assert message["x"] == name["x"] and message["width"] >= name["width"], (name, message)
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_recordings_warnings_and_a_format_the_browser_cannot_play_are_said(browser, server, client, session_id,
                                                                             audio_dir):
    """A stranger's clipped file: its features warnings reached the JSON only, not the page or the picture; and
    an AIFF upload (accepted) left a greyed-out player and "Unable to decode audio data"."""
    import numpy as np
    import soundfile as sf

    from tests.test_api_sessions import upload

    t = np.arange(22050 * 3) / 22050
    loud = np.clip(4.0 * np.sin(2 * np.pi * 220 * t), -1.0, 1.0).astype("float32")
    sf.write(audio_dir / "loud.aiff", loud, 22050, format="AIFF")
    assert upload(client, session_id, audio_dir / "loud.aiff").status_code == 201
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": "loud.aiff"}).json()["job_id"])
    assert job["state"] == "succeeded" and job["result"]["audio_features"]["warnings"][0].startswith("clipped")
    context, page, _ = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=loud.aiff")
        page.locator("#features-warnings li", has_text="clipped").wait_for()
        page.locator("#track-status", has_text="cannot play AIFF").wait_for()
        assert "Unable to decode" not in page.locator("#track-status").inner_text()
        # the zoom's readout follows the zoom of a paused track (it had waited for the playhead's text to change)
        readout = page.locator("#zoom-readout")
        page.locator("#zoom-in").click()
        page.locator("#zoom-in").click()
        page.wait_for_function("!document.querySelector('#zoom-readout').textContent.includes('whole')")
        assert "visible" in readout.inner_text(), readout.inner_text()
        page.locator("#zoom-fit").click()
        page.wait_for_function("document.querySelector('#zoom-readout').textContent.includes('whole')")
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_file_a_batch_could_not_analyse_says_why_where_its_results_would_be(browser, server, client, session_id,
                                                                             audio_dir):
    """A stranger's 0.09 s clip in a pitch batch over a session: the batch succeeded, the clip was one of its
    `errors` (audio_too_short), and the page said "Run “Key, tempo, chords, melody”" for it, which failed again."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    for name, seconds in (("blip.wav", 0.05), ("tone.wav", 2.0)):
        assert upload(client, session_id, write(audio_dir / name, sine(440, seconds))).status_code == 201
    job = client.wait_job(client.post(f"/process/pitch/{session_id}",
                                      json={"files": ["blip.wav", "tone.wav"]}).json()["job_id"])
    assert job["state"] == "succeeded" and job["result"]["errors"][0]["code"] == "audio_too_short", job
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=blip.wav")
        said = "Key, tempo, chords, melody failed on this file: the audio lasts 0.05 s"
        page.locator("#track-status", has_text=said).wait_for()
        assert said in page.locator("#summary-empty").inner_text()
        assert "Run “Features picture”" in page.locator("#features").inner_text()  # not asked for: nothing failed
        page.goto(f"{server}/#session={session_id}&file=tone.wav")
        page.locator("#fact-tempo").wait_for()
        assert "failed" not in page.locator("#track-status").inner_text()
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_queued_job_is_canceled_from_the_page(app, browser, server, client, session_id, audio_dir, settings):
    """The job's record is made without publishing it, so it is certainly still queued when Cancel is pressed
    (as tests/test_api_jobs.py does); the page learns the outcome from the job's event stream."""
    with queued_job_on_the_page(app, browser, server, client, session_id, audio_dir, settings) as (job, row, problems):
        # the file from the start: a stranger's 14 queued rows read alike, and so did their Cancel buttons
        assert "tone.wav" in row.locator(".stage").inner_text()
        row.get_by_role("button", name="Cancel Features picture of tone.wav").click()
        row.locator(".state", has_text="canceled").wait_for()
        assert row.get_by_role("button").count() == 0  # nothing left to cancel
        assert client.get(f"/jobs/{job['job_id']}").json()["state"] == "canceled"
        assert not problems, problems


@pytest.mark.needs_chromium
def test_every_refused_analysis_is_shown(browser, server, client, session_id, audio_dir):
    """A stranger ticked Stems (htdemucs) and the audio LLM, both refused (no weights): the notice showed the
    last refusal only. The page asks for the audio LLM `auto`: given album art, it needs a model that sees images,
    and the suite has none (SmolLM2, once converted, reads text only)."""
    from tests.audio_synth import sine, write
    from tests.test_album_art import cover
    from tests.test_api_sessions import upload

    r = upload(client, session_id, write(audio_dir / "refused.wav", sine(330, 0.5)), cover(audio_dir / "cover.png"))
    assert r.status_code == 201, r.text
    context, page, _ = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=refused.wav")
        page.get_by_label("Audio LLM analysis: album art").select_option("cover.png")
        run_from_the_page(page, "refused.wav", tick=["Stems", "Audio LLM analysis"],
                          untick=["Key, tempo, chords, melody", "Features picture"], stems="htdemucs")
        notice = page.locator("#notice")
        notice.wait_for(state="visible")
        assert "Stems:" in notice.inner_text() and "Audio LLM analysis:" in notice.inner_text(), notice.inner_text()
        assert client.get("/jobs", params={"session_id": session_id}).json()["jobs"] == []  # none started
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_what_was_deleted_elsewhere_leaves_the_page(browser, server, client, settings, session_id, audio_dir):
    """A stranger deleted a file and then the session through the API with the page open: the file's click read
    "Unable to decode audio data" and it stayed listed; an upload made the session again under its old jobs. And
    the transcript panel showed Whisper's words for music without its "may be made up" warning."""
    import json

    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload, user_session_dir

    for name, hz in (("kept.wav", 330), ("gone.wav", 440)):
        assert upload(client, session_id, write(audio_dir / name, sine(hz, 1.0))).status_code == 201
    doubt = "the transcript may be made up: no voice was heard in 1 of 1 segments"
    # the file a Whisper job writes (its shape: worker/transcription/pipeline.py), put where the job puts it
    (user_session_dir(settings, USER, session_id) / "results" / "transcript_kept.json").write_text(json.dumps(
        {"language": "en", "text": "the", "warnings": [doubt],
         "segments": [{"start": 0.0, "end": 1.0, "text": "the",
                       "words": [{"start": 0.1, "end": 0.4, "word": "the"}]}]}))
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=kept.wav")
        page.locator("#transcript ul.warnings li", has_text="may be made up").wait_for()
        assert client.delete(f"/sessions/{session_id}/files/gone.wav").status_code == 200
        page.locator("#file-list li.file", has_text="gone.wav").locator(".file-open").click()
        page.locator("#file-list li.file", has_text="gone.wav").wait_for(state="detached")
        assert page.locator("#file-list li.file", has_text="kept.wav").count() == 1
        assert client.delete(f"/sessions/{session_id}").status_code == 200
        page.locator("#file-input").set_input_files(str(audio_dir / "kept.wav"))
        page.locator("#notice", has_text="no longer exists").wait_for()
        page.wait_for_function(f"() => /Session [0-9a-f]+/.test(document.querySelector('#session-title').textContent)"
                               f" && !document.querySelector('#session-title').textContent.includes('{session_id}')")
        page.locator("#file-list li.file", has_text="kept.wav").wait_for()
        assert client.get(f"/sessions/{session_id}").status_code == 404  # not made again
        assert not [p for p in problems if "404" not in p], problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_an_address_naming_no_session_id_keeps_the_open_session(browser, server, client, session_id, audio_dir):
    """A stranger's `#session=../../etc&file=<img ...>` put "Session ../../etc" in the header over the open
    session's files, with the server's bare "the request could not be parsed"."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "kept.wav", sine(440, 1.0))).status_code == 201
    context, page, _ = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}")
        page.locator("#file-list li", has_text="kept.wav").wait_for()
        page.evaluate("location.hash = '#session=../../etc&file=<img src=x onerror=alert(1)>'")
        notice = page.locator("#notice", has_text="is not a session id")
        notice.wait_for(state="visible")
        assert '"../../etc"' in notice.inner_text()
        assert page.locator("#session-title").inner_text() == f"Session {session_id}"
        assert page.locator("#file-list li", has_text="kept.wav").count() == 1
        assert f"session={session_id}" in page.evaluate("location.hash")  # the address names what is open again
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_long_file_name_wraps_and_never_widens_the_page(browser, server, client, session_id, audio_dir):
    """A stranger's upload named with 120 characters (the limit) made the track's heading run on one line: the
    page grew to 1578 px at a 1280 px window (1237 at 700) and scrolled sideways."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    name = "a" * 116 + ".wav"
    assert upload(client, session_id, write(audio_dir / name, sine(440, 1.0))).status_code == 201
    context, page, _ = logged_in(browser)
    try:
        for width in (1280, 700):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{server}/#session={session_id}&file={name}")
            page.locator("#track-h", has_text=name).wait_for()
            assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_long_name_renamed_at_upload_never_widens_the_page(browser, server, session_id, audio_dir):
    """A stranger's 244-character name without a space (the server keeps 120) was said in full, on one line, in the
    upload list's "done: renamed from “…”" and the file list's "renamed from": a 1440 px window's page grew to
    1973 px and scrolled sideways."""
    from tests.audio_synth import sine, write

    path = write(audio_dir / ("x" * 240 + ".wav"), sine(440, 0.5))
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}")
        page.locator("#session-title", has_text=session_id).wait_for()
        page.locator("#file-input").set_input_files(str(path))
        page.locator("#upload-list li.renamed").wait_for()
        page.locator("#file-list .renamed").wait_for()
        for width in (1440, 700):
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_session_of_many_files_lists_them_in_natural_order_a_page_at_a_time(browser, server, client, session_id,
                                                                             audio_dir):
    """A stranger's 999-file session made the page 69,235 px tall (every row a form), in the order t0, t1, t10,
    t100. The page lists 100 files in natural order, then "Show more"; the open file is always listed."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    tone = write(audio_dir / "tone.wav", sine(440, 0.2))
    names = [f"t{i}.wav" for i in range(130)]
    for name in names:
        (audio_dir / name).write_bytes(tone.read_bytes())
    r = upload(client, session_id, *(audio_dir / n for n in names))
    assert r.status_code == 201 and len(r.json()["files"]) == 130, r.text[:300]
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=t125.wav")
        page.locator("#file-list button.show-more").wait_for()
        rows = page.locator("#file-list li.file[data-file]")
        assert rows.count() == 101  # the first 100, and the open file
        shown = [rows.nth(i).get_attribute("data-file") for i in range(rows.count())]
        assert shown == names[:100] + ["t125.wav"]
        assert page.locator("#file-list button.show-more").inner_text() == "Show 29 more (29 not shown)"
        page.locator("#file-list button.show-more").click()
        page.locator("#file-list li.file[data-file='t129.wav']").wait_for()
        assert rows.count() == 130 and page.locator("#file-list button.show-more").count() == 0
        assert [rows.nth(i).get_attribute("data-file") for i in range(130)] == names
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_an_analysis_answered_from_the_cache_shows_its_results(browser, server, client, session_id, audio_dir):
    """A stranger ran an analysis from the page on a file analysed before in another session: the job came back
    already succeeded (the result cache), and the page said "Run … on the file" beside it until reloaded."""
    from tests.test_api_sessions import upload
    from tests.test_cli import song

    tune = song(audio_dir / "again.wav", tonic=1, bars=4)  # audio of this test only
    assert upload(client, session_id, tune).status_code == 201
    first = client.wait_job(client.post(f"/process/pitch/{session_id}", json={"file": "again.wav"}).json()["job_id"])
    assert first["state"] == "succeeded" and not first["result"].get("cached")
    other = client.post("/sessions").json()["session_id"]
    assert upload(client, other, tune).status_code == 201
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={other}&file=again.wav")
        page.locator("#file-list li.file", has_text="again.wav").wait_for()
        run_from_the_page(page, "again.wav", tick=["Key, tempo, chords, melody"], untick=["Features picture"])
        page.locator("#job-list li.job.succeeded").wait_for()
        page.locator("#fact-key .value", has_text="major").wait_for(timeout=20000)
        jobs = client.get("/jobs", params={"session_id": other}).json()["jobs"]
        assert len(jobs) == 1 and jobs[0]["result"].get("cached"), jobs  # the cache answered it
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_session_deleted_elsewhere_found_by_a_read_is_said_to_be_gone(browser, server, client, session_id,
                                                                        audio_dir):
    """A file of the open session, opened after the session was deleted through the API: the page's read of the
    session said the server's bare "not found" (a full run's media request found it so before the test's upload
    could, and the upload then went into a new session unsaid)."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    for name, hz in (("one.wav", 350), ("two.wav", 450)):
        assert upload(client, session_id, write(audio_dir / name, sine(hz, 1.0))).status_code == 201
    context, page, _ = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=one.wav")
        page.locator("#file-list li.file", has_text="two.wav").wait_for()
        assert client.delete(f"/sessions/{session_id}").status_code == 200
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        try:
            page.locator("#file-list li.file", has_text="two.wav").locator(".file-open").click(timeout=10_000)
        except PlaywrightTimeoutError:
            pass  # the page's own read of the session found it gone first and took its list down (a loaded CI run)
        page.locator("#notice", has_text=f"Session {session_id} no longer exists (it was deleted)").wait_for()
        assert page.locator("#session-title").text_content() == "No session open"
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_job_the_server_no_longer_has_reads_gone_not_queued_for_good(browser, server, client, session_id, app,
                                                                        settings, audio_dir):
    """A stranger's Redis (keeping nothing on disk) restarted under the page: the jobs' records were gone, and their
    rows read "queued" and "running" with a Cancel button for good (the page's last look at the job, a 404, was
    dropped without a word). The record goes here as an emptied Redis loses it."""
    from jobs import keys

    with queued_job_on_the_page(app, browser, server, client, session_id, audio_dir, settings) as (job, row, problems):
        app.extensions["music_analyzer"].redis.delete(keys.job(job["job_id"]), keys.event_log(job["job_id"]))
        # the stream notices at its next heartbeat, the browser reconnects, and the job's 404 ends the follow
        row.locator(".state", has_text="gone").wait_for(timeout=60_000)
        assert "no longer has this job" in row.locator(".stage").inner_text()
        assert row.get_by_role("button").count() == 0  # nothing to cancel
        assert not [p for p in problems if "404" not in p], problems  # the refused stream and GET are expected
