"""The web page in a real browser: Debian's headless Chromium driven by Playwright, against the live test service
(real Redis, the real Celery worker, real HTTP). A user logs in, drops two files, runs analyses from the page,
watches the jobs finish through their event streams, and uses the results: key and tempo, the beat highlight
moving with playback, a soloed stem, the transcript with the spoken word lit.

Screenshots of the main views go to $MA_TEST_ARTIFACTS (default: the test's own temporary folder).
"""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf

from tests.browser_page import logged_in
from tests.conftest import PASSWORD, USER
from tests.music_signals import SR, cadence, click_track

JOB_SECONDS = 240  # the four jobs run one after another on the suite's one worker
WORDS = "The quick brown fox jumps over the lazy dog."


def groove(path: Path) -> Path:
    """I-IV-V7-I in G major, a 2 s bar per chord, with a click on every beat at 120 BPM (as tests/test_cli.py, in
    another key: audio no other test analyses, so the result cache cannot answer for the worker)."""
    y, _ = cadence(tonic=7, bars=8, bar_seconds=2.0)
    y = y + 0.5 * click_track(120.0, len(y) / SR)[: len(y)]
    sf.write(path, (0.8 * y / np.abs(y).max()).astype(np.float32), SR, subtype="PCM_16")
    return path


@pytest.mark.needs_chromium
def test_without_credentials_the_browser_is_asked_for_them(browser, server):
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context()  # no credentials: a person would see the browser's login prompt now
    answers = []
    page = context.new_page()
    page.on("response", lambda r: answers.append(r))
    try:
        with pytest.raises(PlaywrightError, match="AUTH"):  # headless, the prompt is dismissed at once
            page.goto(server + "/")
        assert [a.status for a in answers] == [401]
        assert answers[0].headers["www-authenticate"].startswith("Basic")
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_the_page_opened_with_credentials_in_its_address_works(browser, server, client):
    """http://user:pass@host/ (what a stranger typed): fetch refuses addresses resolved against a page address
    holding credentials ("URL that includes credentials"); the page asks its own origin instead, and the list
    of sessions loads."""
    session_id = client.post("/sessions").json()["session_id"]
    context = browser.new_context()  # no stored credentials: only those in the address
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        response = page.goto(server.replace("://", f"://{USER}:{PASSWORD}@", 1) + "/")
        assert response is not None and response.status == 200
        page.locator("#session-list li").first.wait_for(timeout=15000)  # the list answered (rows, or "None yet")
        assert problems == [], problems
        assert page.locator("#session-list li").count() >= 1 and client.get(f"/sessions/{session_id}").ok
        held = client.get("/sessions").json()["storage"]  # what the sessions hold, no quota by default
        assert held["quota_bytes"] is None and "(no storage quota)" in page.locator("#storage-use").inner_text()
    finally:
        context.close()


def test_a_forged_cross_site_post_is_refused(client, server):
    r = client.post("/sessions", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross_site_request"
    r = client.post("/sessions", headers={"Origin": "https://evil.example"})  # an older browser: Origin only
    assert r.status_code == 403
    for own in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": server},
                {"Origin": "http://127.0.0.1:9", "Host": "127.0.0.1"}):
        r = client.post("/sessions", headers=own)  # the page itself (the last: behind a proxy that passes the host
        assert r.status_code == 201, own  # name on without its port, which port the page came from is unknown)
    # another port of this host is another origin, over plain http (no Sec-Fetch-Site) too: a page on :3000 of the
    # same box (a notebook, a dashboard) had created sessions here with the browser's remembered credentials
    for other in ({"Origin": "http://127.0.0.1:9"}, {"Origin": "http://127.0.0.1"}, {"Origin": "http://127.0.0.1:x"},
                  {"Sec-Fetch-Site": "same-site"}):
        r = client.post("/sessions", headers=other)
        assert r.status_code == 403 and r.json()["error"]["code"] == "cross_site_request", other


def drop_files(page, selector: str, files: list[Path]) -> None:
    """A real drop event on the drop zone, carrying the files as a DataTransfer (what dragging from a file
    manager delivers)."""
    payload = [{"name": f.name, "data": base64.b64encode(f.read_bytes()).decode()} for f in files]
    transfer = page.evaluate_handle("""(files) => {
        const dt = new DataTransfer();
        for (const f of files) {
            const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
            dt.items.add(new File([bytes], f.name, { type: 'audio/wav' }));
        }
        return dt;
    }""", payload)
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def run_from_the_page(page, name: str, *, tick: list[str], untick: list[str] = (), stems: str | None = None,
                      stems_format: str | None = None):
    row = page.locator("#file-list li.file", has_text=name)
    details = row.locator("details")
    if details.get_attribute("open") is None:
        row.locator("summary").click()
    for label in untick:
        row.get_by_label(label, exact=True).uncheck()
    for label in tick:
        row.get_by_label(label, exact=True).check()
    if stems:
        row.get_by_label("Stems: method").select_option(stems)
    if stems_format:
        row.get_by_label("Stems: audio format").select_option(stems_format)
    row.get_by_role("button", name="Run").click()


def beat_reached(page, beat: int) -> None:
    """Wait (on the page's animation frames, no sleeping) until the highlighted beat is `beat` or later."""
    page.wait_for_function("(beat) => Number(document.querySelector('#now').dataset.beat) >= beat", arg=beat,
                           timeout=20000)


@pytest.mark.needs_chromium
@pytest.mark.needs_espeak
def test_the_page_end_to_end(browser, server, client, audio_dir, artifacts):
    song = groove(audio_dir / "groove.wav")
    speech = audio_dir / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(speech), WORDS], check=True)

    context, page, problems = logged_in(browser)
    streams: set[str] = set()  # the jobs whose event stream the page opened

    def note_stream(request) -> None:
        if request.url.endswith("/events"):
            streams.add(request.url.split("/jobs/")[1].split("/")[0])

    page.on("request", note_stream)
    try:
        response = page.goto(server + "/")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.get_by_role("heading", name="Music Analyzer").wait_for()

        # two files dropped at once: each its own upload with its own progress, into a new session
        drop_files(page, "#drop-zone", [song, speech])
        page.locator("#file-list li.file").nth(1).wait_for()
        session_id = page.evaluate("new URLSearchParams(location.hash.slice(1)).get('session')")
        assert session_id and len(client.get(f"/sessions/{session_id}").json()["files"]) == 2

        # FLAC stems (a stranger's 10-minute track had come back as two 225 MB float WAVs): the mixer plays them
        run_from_the_page(page, "groove.wav", tick=["Key, tempo, chords, melody", "Features picture", "Stems"],
                          stems="hpss", stems_format="flac")
        run_from_the_page(page, "speech.wav", tick=["Transcript (Whisper)"],
                          untick=["Key, tempo, chords, melody", "Features picture"])
        jobs = page.locator("#job-list li.job")
        jobs.nth(3).wait_for()
        page.screenshot(path=str(artifacts / "jobs-running.png"))
        page.wait_for_function("() => document.querySelectorAll('#job-list li.job.succeeded').length === 4",
                               timeout=JOB_SECONDS * 1000)
        assert page.locator("#job-list li.job.failed").count() == 0
        # each row names the upload it read (the Whisper job's had named its transcript_speech.json)
        assert "speech.wav" in page.locator("#job-list li.job", has_text="Transcript").inner_text()
        listed = client.get(f"/jobs?session_id={session_id}").json()["jobs"]
        ran = {j["job_id"] for j in listed if not j["result"].get("cached")}  # a cached one is finished at once
        assert len(listed) == 4 and ran and ran <= streams, "every job that ran was followed through its stream"
        results = {r["name"] for r in client.get(f"/sessions/{session_id}").json()["results"]}
        assert {"harmonic_groove.flac", "percussive_groove.flac"} <= results, results

        # key and tempo of the groove
        page.locator("#file-list .file-open", has_text="groove.wav").click()
        page.locator("#fact-key", has_text="G major").wait_for()
        tempo = page.locator("#fact-tempo .value").inner_text()
        assert abs(float(tempo.split()[0]) - 120.0) < 2.0, tempo
        page.wait_for_function("() => { const i = document.querySelector('#features img');"
                               " return i && i.complete && i.naturalWidth > 0; }")

        # playback moves the beat highlight (the readout says which beat the canvas shades)
        page.evaluate("document.querySelector('#player').play()")
        beat_reached(page, 2)
        beat_reached(page, int(page.locator("#now").get_attribute("data-beat")) + 2)
        page.screenshot(path=str(artifacts / "track.png"), full_page=True)
        page.set_viewport_size({"width": 1366, "height": 768})  # a common laptop screen
        page.screenshot(path=str(artifacts / "laptop.png"))
        page.set_viewport_size({"width": 1440, "height": 900})

        # solo a stem: only it is heard, and it plays in step with the player
        stems = page.locator("#mixer table tbody tr")
        assert {stems.nth(i).get_attribute("data-stem") for i in range(stems.count())} == {
            "Original mix", "harmonic", "percussive"}
        page.get_by_role("button", name="Solo percussive").click()
        assert page.get_by_role("button", name="Solo percussive").get_attribute("aria-pressed") == "true"
        page.wait_for_function("""() => {
            const player = document.querySelector('#player');
            const rows = [...document.querySelectorAll('#mixer audio')];
            const heard = rows.filter((a) => !a.muted);
            return player.muted && heard.length === 1 && heard[0].src.includes('percussive_groove')
                && !heard[0].paused && Math.abs(heard[0].currentTime - player.currentTime) < 0.3;
        }""", timeout=15000)
        page.locator("#mixer").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "stems.png"), full_page=True)
        page.evaluate("document.querySelector('#player').pause()")

        # the transcript of the speech, with the word being said lit during playback
        page.locator("#file-list .file-open", has_text="speech.wav").click()
        page.locator("#transcript .word").nth(3).wait_for()
        text = page.locator("#transcript").inner_text().lower()
        assert "quick brown fox" in text, text
        assert page.locator("#subtitle-links a", has_text=".srt").count() == 1
        page.evaluate("document.querySelector('#player').play()")
        page.locator("#transcript .word.current").wait_for(timeout=20000)
        page.screenshot(path=str(artifacts / "transcript.png"), full_page=True)
        page.evaluate("document.querySelector('#player').pause()")

        # an address typed or pasted (a new hash) opens the file it names
        page.evaluate(f"location.hash = 'session={session_id}&file=groove.wav'")
        page.locator("#fact-key", has_text="G major").wait_for()
        assert page.locator("#file-list li.file.current", has_text="groove.wav").count() == 1
        # times read as minutes and seconds, the tenths rounded before the minute is split off
        shown = page.evaluate("import('/web/js/ui.js').then((ui) => [1199.97, 59.96, 61.04, 0].map(ui.formatTime))")
        assert shown == ["20:00.0", "1:00.0", "1:01.0", "0:00.0"], shown

        # the models panel answers from the status route
        page.locator("#models-panel summary").click()
        page.locator("#models-rows tr").first.wait_for()
        page.locator("#models-panel").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "models.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()


def test_the_page_files_and_their_headers(client, server):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
    r = client.get("/web/js/main.js")
    assert r.status_code == 200 and "javascript" in r.headers["Content-Type"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    for missing in ("/web/js/nope.js", "/web/index.html", "/web/../app.py", "/web/%2e%2e/app.py", "/web/js/"):
        r = client.get(missing)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", missing
    assert requests.get(server + "/web/app.css", timeout=30).status_code == 401  # behind the login too


def test_the_file_picker_offers_browser_recordings(client):
    """A system's types name .webm video/webm (Debian's mime.types), which `audio/*` does not match: the picker
    greyed out the WebM a browser had recorded, though the server takes it."""
    accept = re.search(r'id="file-input"[^>]*accept="([^"]*)"', client.get("/").text)
    assert accept is not None
    assert {".webm", ".mka"} <= set(accept.group(1).split(",")), accept.group(1)


@pytest.mark.needs_chromium
def test_the_analyses_ticked_survive_a_redraw_of_the_file_list(browser, server, client, session_id, audio_dir):
    """The list is redrawn at every job's end: the ticks were reset under the user's hand, and a Run pressed then
    ran the default analyses (the end-to-end test's Whisper run became a second features job)."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "ticks.wav", sine(330, 0.5))).status_code == 201
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=ticks.wav")
        row = page.locator("#file-list li.file", has_text="ticks.wav")
        row.get_by_label("Key, tempo, chords, melody", exact=True).uncheck()
        row.get_by_label("Transcript (Whisper)", exact=True).check()
        row.get_by_label("Stems: method").select_option("repet")
        row.get_by_label("Stems: audio format").select_option("mp3")
        row.locator(".file-open").click()  # selecting the file redraws the list, as a job's end does
        page.wait_for_function("() => document.querySelector('#file-list li.file .file-open[aria-current]')")
        assert not row.get_by_label("Key, tempo, chords, melody", exact=True).is_checked()
        assert row.get_by_label("Transcript (Whisper)", exact=True).is_checked()
        assert row.get_by_label("Stems: method").input_value() == "repet"
        assert row.get_by_label("Stems: audio format").input_value() == "mp3"
        assert not problems, problems
    finally:
        context.close()


def test_the_separation_models_say_which_can_run_here(client):
    """GET /separation/models: the test server has no Demucs weights, the DSP methods need none."""
    answer = client.get("/separation/models").json()
    models = {m["name"]: m for m in answer["models"]}
    assert answer["default"] == "htdemucs" and models["htdemucs"] == {"name": "htdemucs", "needs_weights": True,
                                                                      "present": False}
    assert models["hpss"]["present"] and not models["hpss"]["needs_weights"] and models["repet"]["present"]
    # what a whisper job of source "vocals" (--lyrics) separates with first: the CLI asks before uploading
    assert answer["vocals_separation"] == {"model": "htdemucs", "present": False}
    assert client.get("/separation/models", params={"owner": "whoever"}).status_code == 200  # the CLI's --owner
    assert client.get("/separation/models", params={"x": 1}).status_code == 400


@pytest.mark.needs_chromium
def test_the_stems_choice_opens_on_a_model_that_can_run_here(browser, server, client, session_id, audio_dir):
    """The page offered htdemucs first where its weights were missing, and the run was a 409 (a stranger's trial)."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "stems.wav", sine(330, 0.5))).status_code == 201
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=stems.wav")
        method = page.locator("#file-list li.file", has_text="stems.wav").get_by_label("Stems: method")
        page.wait_for_function("() => [...document.querySelectorAll('#file-list option')].some("
                               "(o) => o.textContent.includes('weights not on this server'))")
        assert method.input_value() == "hpss"
        assert method.locator("option[value=htdemucs]").text_content().endswith("weights not on this server")
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_chord_box_shows_the_longest_name_that_fits(browser, server):
    """A chord box too narrow for its label had clipped it mid-word (a stranger's page read "A:n" for "A:min"): the
    box shows the lead-sheet name, else the root, else nothing; never a cut name."""
    context, page, problems = logged_in(browser)
    try:
        page.goto(server + "/")
        shown = page.evaluate("""import('/web/js/timeline.js').then((t) => {
            const g = document.createElement('canvas').getContext('2d');
            g.font = '12px system-ui, sans-serif';
            const w = (s) => g.measureText(s).width;
            return ['A:min', 'C:maj', 'G:7', 'F#:min7'].map((label) =>
                [w(label) + 1, w(t.chordNames(label)[0]) + 1, w(label.split(':')[0]) + 1, 1]
                    .map((room) => t.chordText(g, label, room)));
        })""")
        assert shown == [["Am", "Am", "A", ""], ["C", "C", "C", ""], ["G7", "G7", "G", ""],
                         ["F#m7", "F#m7", "F#", ""]], shown
        assert not problems, problems
    finally:
        context.close()
