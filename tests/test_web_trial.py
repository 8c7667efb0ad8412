"""What a stranger's trial of the web page found, in a real browser (Debian's headless Chromium driven by Playwright,
against the live test service, real jobs): facts that were never asked for read as measured, a session deleted
elsewhere that a refused Run left open, the audio LLM refused on every install without its default model, and a
Jobs panel hiding its rows beyond the fifth."""

from __future__ import annotations

import json

import pytest

from tests.browser_page import logged_in
from tests.test_web_page import run_from_the_page

NOT_MEASURED = "not measured"


@pytest.mark.needs_chromium
def test_facts_not_asked_for_read_as_not_measured(browser, server, client, session_id, audio_dir):
    """A key-only pitch job had shown "Tempo no steady beat", "0 beats, 0 bars" and "–" for metre and tuning; with
    key and tempo, "0 beats, 0 bars"."""
    from tests.test_api_sessions import upload
    from tests.test_cli import song

    assert upload(client, session_id, song(audio_dir / "asked.wav", tonic=4, bars=4)).status_code == 201
    facts = ("key", "tempo", "metre", "tuning", "beats")
    context, page, problems = logged_in(browser)
    try:
        for include, measured in ((["key"], {"key"}), (["key", "tempo"], {"key", "tempo"})):
            r = client.post(f"/process/pitch/{session_id}", json={"file": "asked.wav", "include": include})
            job = client.wait_job(r.json()["job_id"], timeout=120)
            assert job["state"] == "succeeded" and "beat_times" not in job["result"], job
            page.goto(f"{server}/#session={session_id}&file=asked.wav")
            page.reload()  # the newest job's result, read afresh
            page.locator("#fact-key .value", has_text="major").wait_for()
            shown = {f: page.locator(f"#fact-{f} .value").inner_text() for f in facts}
            assert {f for f, text in shown.items() if NOT_MEASURED in text} == set(facts) - measured, shown
        assert "BPM" in shown["tempo"], shown  # measured: 120 BPM, not "not measured"
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_run_refused_for_a_session_deleted_elsewhere_closes_it(browser, server, client, audio_dir):
    """A stranger deleted the open session through the API and pressed Run: "session '…' does not exist" for each
    analysis, under the session's title, files, jobs and track, and its row in Sessions."""
    import uuid

    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    # an id that sorts first: the Sessions list shows the first page by id, and other tests make many sessions
    session_id = f"0-gone-{uuid.uuid4().hex[:8]}"
    assert upload(client, session_id, write(audio_dir / "orphan.wav", sine(440, 0.5))).status_code == 201
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=orphan.wav")
        page.locator("#file-list li.file", has_text="orphan.wav").wait_for()
        page.locator(f"#session-list button.session[data-session='{session_id}']").wait_for()
        assert client.delete(f"/sessions/{session_id}").status_code == 200
        run_from_the_page(page, "orphan.wav", tick=["Key, tempo, chords, melody"])
        page.locator("#notice", has_text="does not exist").wait_for()
        page.locator("#session-title", has_text="No session open").wait_for()
        page.locator("#file-list li.file").first.wait_for(state="detached")
        page.locator(f"#session-list button.session[data-session='{session_id}']").wait_for(state="detached")
        assert page.locator("#track-h").inner_text() == "No file selected"
        assert session_id not in page.evaluate("location.hash")
        assert not [p for p in problems if "404" not in p], problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_the_audio_llm_runs_on_a_model_the_server_has(browser, server, client, session_id, audio_dir, smollm2_folder):
    """The page sent no model: the route's default, gemma-3n-E4B, is on few servers, and every Run was refused
    "the weights of gemma-3n-E4B are not on this server". It asks for `auto` (SmolLM2 here)."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "llm-tone.wav", sine(440, 1.0))).status_code == 201
    context, page, problems = logged_in(browser)
    try:
        sent = []

        def shorter(route):  # the page's own request, with a short answer: SmolLM2's 512 tokens took ~50 s a run
            sent.append(route.request.post_data_json)
            route.continue_(post_data=json.dumps({**sent[-1], "max_new_tokens": 16}))

        page.route("**/process/gemma_3n/**", shorter)
        page.goto(f"{server}/#session={session_id}&file=llm-tone.wav")
        with page.expect_response(lambda r: "/process/gemma_3n/" in r.url) as answer:
            run_from_the_page(page, "llm-tone.wav", tick=["Audio LLM analysis"],
                              untick=["Key, tempo, chords, melody", "Features picture"])
        assert answer.value.status == 202, answer.value.text()
        assert sent[0]["model_variant"] == "auto", sent
        job = client.wait_job(answer.value.json()["job_id"], timeout=300)
        assert job["state"] == "succeeded", job
        assert job["result"]["model_choice"]["model"] == job["result"]["model"] == "smollm2-135m", job["result"]
        page.locator("#analysis article h3", has_text="Audio LLM (smollm2-135m)").wait_for(timeout=30000)
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_the_jobs_panel_says_how_many_jobs_it_holds(browser, server, client, session_id, audio_dir):
    """A stranger's sixth job and later were hidden below the Jobs panel's fold, with no scrollbar drawn."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    names = [f"count{i}.wav" for i in range(6)]
    for i, name in enumerate(names):
        assert upload(client, session_id, write(audio_dir / name, sine(300 + 10 * i, 0.3))).status_code == 201
    for name in names:
        r = client.post(f"/process/pitch/{session_id}", json={"file": name, "include": ["key"]})
        assert client.wait_job(r.json()["job_id"], timeout=120)["state"] == "succeeded"
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}")
        page.locator("#job-list li.job").nth(5).wait_for(state="attached")
        assert page.evaluate("(l) => l.scrollHeight > l.clientHeight", page.locator("#job-list").element_handle())
        count = page.locator("#jobs-count")
        count.wait_for()
        assert count.inner_text() == "6 jobs, newest first; scroll for the rest", count.inner_text()
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_notice_goes_when_its_cause_is_gone_and_not_before(browser, server, client, session_id, audio_dir):
    """A stranger's refused key filter stayed up over the list its corrected key answered (for 12 s, whatever
    happened), and the notice of a Run with nothing ticked replaced it while it still applied."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "notice.wav", sine(440, 0.3))).status_code == 201
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=notice.wav")
        page.locator("#file-list li.file", has_text="notice.wav").wait_for()
        page.locator("#library-panel summary").click()
        page.get_by_label("Key", exact=True).fill("H minor")
        page.get_by_role("button", name="List", exact=True).click()
        notice = page.locator("#notice")
        page.locator("#notice", has_text="key must be a key").wait_for()
        run_from_the_page(page, "notice.wav", tick=[], untick=["Key, tempo, chords, melody", "Features picture"])
        page.locator("#notice", has_text="Tick at least one analysis.").wait_for()
        assert "key must be a key" in notice.inner_text()  # both apply: the second had replaced the first
        # the key corrected and answered: its refusal goes at once, the Run's stays (it still applies)
        page.get_by_label("Key", exact=True).fill("A minor")
        page.get_by_role("button", name="List", exact=True).click()
        page.wait_for_function("() => !['', 'Listing…'].includes("
                               "document.querySelector('#library-tracks-status').textContent)")
        assert notice.inner_text() == "Tick at least one analysis."
        # a Run that starts what is ticked: the Run's notice goes with its cause
        run_from_the_page(page, "notice.wav", tick=["Features picture"])
        page.locator("#job-list li.job", has_text="notice.wav").first.wait_for()
        notice.wait_for(state="hidden")
        # one the user has read goes when dismissed
        page.get_by_label("Key", exact=True).fill("H minor")
        page.get_by_role("button", name="List", exact=True).click()
        page.get_by_role("button", name="Dismiss: key must be", exact=False).click()
        notice.wait_for(state="hidden")
        assert not [p for p in problems if "400" not in p], problems  # the refused filter's 400 is the browser's
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_an_upload_the_server_renamed_is_named_as_stored(browser, server, session_id, audio_dir):
    """A stranger's "my song.wav" read so in the upload list and my_song.wav in Files (the server's safe name), and
    a second upload of it, stored as my_song-1.wav, read "my song.wav" too. (The second holds other bytes: the
    same bytes again are not sent, tests/test_web_same_upload.py.)"""
    from tests.audio_synth import sine, write

    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}")
        page.locator("#session-title", has_text=session_id).wait_for()
        for n, (stored, hz) in enumerate((("my_song.wav", 440), ("my_song-1.wav", 550))):
            sent = write(audio_dir / "my song.wav", sine(hz, 0.3))
            page.locator("#file-input").set_input_files(str(sent))
            item = page.locator("#upload-list li.upload.ok").nth(n)
            item.wait_for()
            assert item.locator(".name").inner_text() == stored
            assert "renamed from “my song.wav”" in item.inner_text(), item.inner_text()
            row = page.locator(f"#file-list li.file[data-file='{stored}']")
            row.locator(".renamed", has_text="renamed from “my song.wav”").wait_for()
            assert row.locator(".file-open .name").inner_text() == stored
        # stays until read: dismissed, it goes
        page.locator("#upload-list li.upload.ok").first.get_by_role("button", name="Dismiss").click()
        assert page.locator("#upload-list li.upload.ok").count() == 1
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_no_tuning_reads_as_none_with_its_reason(browser, server, client, session_id, audio_dir):
    """Where nothing has a tuning (silence, noise, speech) the result's `tuning_note` says why beside its 0: the page
    had read "0 cents from A440", a measurement, where the .txt says "Tuning: none (silence)"."""
    import numpy as np

    from tests.audio_synth import write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "hush.wav", np.zeros((44100 * 3, 1), np.float32),
                                            sr=44100)).status_code == 201
    job = client.wait_job(client.post(f"/process/pitch/{session_id}", json={"file": "hush.wav"}).json()["job_id"],
                          timeout=120)
    assert job["state"] == "succeeded" and job["result"]["tuning_note"] == "silence", job
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=hush.wav")
        page.locator("#fact-tuning .value", has_text="none (silence)").wait_for()
        assert "cents" not in page.locator("#fact-tuning .value").inner_text()
        assert not problems, problems
    finally:
        context.close()
