"""The page's model and LLM parts in a real browser (Debian's Chromium, Playwright) against the live test service:
the models panel (status, load, generate, unload), the lyrics analysis shown with its warnings, album art offered
to the analyses by models that see images. Screenshots go to $MA_TEST_ARTIFACTS, as tests/test_web_page.py's."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.browser_page import logged_in
from tests.test_web_library import sung  # noqa: F401 - a fixture: a track whose words the library holds

STATUS_EVERY_MS = 5000  # how often the open models panel reads the status again (web/js/models.js)


@pytest.mark.needs_chromium
def test_the_models_panel_loads_generates_and_unloads(browser, server, client, smollm2_folder, artifacts):
    """SmolLM2 (converted by the suite) through the page: status, Load, a generated answer, Unload.
    `client`: the session's worker runs the model jobs; earlier tests may have left an LLM resident."""
    r = client.post("/api/v2/models/unload", json={"wait": 60})
    assert r.status_code == 200, r.text
    context, page, problems = logged_in(browser)
    try:
        page.goto(server + "/")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.locator("#models-panel summary").click()
        row = page.locator("#models-rows tr[data-model='smollm2-135m']")
        row.wait_for()
        # laid out to be read: no header spills into the next ("LoadedSize"), every name and state on one line
        spilled = page.evaluate("() => [...document.querySelectorAll('table.models thead th')]"
                                ".filter((th) => th.scrollWidth > th.clientWidth).map((th) => th.textContent)")
        assert spilled == []
        wrapped = page.evaluate("() => [...document.querySelectorAll("
                                "'#models-rows th, #models-rows td:not(:last-child)')]"
                                ".filter((th) => { const r = document.createRange(); r.selectNodeContents(th);"
                                " return new Set([...r.getClientRects()].map((b) => Math.round(b.top))).size > 1; })"
                                ".map((th) => th.textContent)")
        assert wrapped == []
        page.set_viewport_size({"width": 1440, "height": 900})
        row.get_by_role("button", name="Load smollm2-135m").click()
        row.get_by_role("button", name="Unload smollm2-135m").wait_for(timeout=120000)
        page.get_by_label("Model", exact=True).select_option("smollm2-135m")
        page.get_by_label("Tokens").fill("8")
        page.get_by_label("Generate text").fill("Name a musical key.")
        page.get_by_role("button", name="Generate").click()
        page.wait_for_function("() => { const t = document.querySelector('#generate-output').textContent;"
                               " return t && !t.startsWith('Generating…') && !t.startsWith('Queued'); }",
                               timeout=120000)
        page.locator("#models-panel").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "models-generated.png"), full_page=True)
        row.get_by_role("button", name="Unload smollm2-135m").click()
        row.get_by_role("button", name="Load smollm2-135m").wait_for(timeout=60000)
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_generation_stopped_from_the_page_shows_what_it_had_written(browser, server, client, smollm2_folder):
    """Stop cancels the generation job; the text written before it is shown, marked as stopped.
    The page's request is sent greedy (temperature 0: the form has no such field, the route does). Sampled at the
    route's 0.7, SmolLM2 ended some answers within a few tokens (of 40 samples, one after 5: "A little magic...", 6
    more within 25): the box went from "(1/600 tokens)", the only report before the end, to the answer, and the wait
    for a rate timed out in a CI run; or the answer came before the Stop. Greedy, it counts "1, 2, 3, ..." for the
    whole budget of 600 tokens."""
    sent = []

    def greedy(route):
        sent.append(route.request.post_data_json)
        route.continue_(post_data=json.dumps({**sent[-1], "temperature": 0}))

    context, page, problems = logged_in(browser)
    try:
        page.route("**/api/v2/models/generate", greedy)
        page.goto(server + "/")
        page.locator("#models-panel summary").click()
        page.locator("#models-rows tr[data-model='smollm2-135m']").wait_for()
        page.get_by_label("Model", exact=True).select_option("smollm2-135m")
        page.get_by_label("Tokens").fill("600")  # SmolLM2 counts on for tens of seconds: stopped long before
        page.get_by_label("Generate text").fill("Write the numbers from 1 to 300, separated by commas.")
        page.get_by_role("button", name="Generate").click()
        # the progress of the tokens: the first report comes after the first; then its tokens of the budget, rate
        # and time left, there and in its job's row (a stranger's 4.5-minute generation had said a share alone)
        # (600 tokens under 10 tok/s, a loaded host's rate, are "up to 1 min 5 s": a CI run timed out on the minutes)
        page.wait_for_function("() => /^Generating… \\d+ % \\(\\d+\\/600 tokens, [\\d.]+ tok\\/s, "
                               "up to (\\d+ min )?\\d+ s left\\)$/"
                               ".test(document.querySelector('#generate-output').textContent)",
                               timeout=120000)
        row = page.locator("#models-jobs li.job .stage").last.text_content() or ""
        assert re.fullmatch(r"generating \d+/600 tokens, [\d.]+ tok/s, up to (\d+ min )?\d+ s left", row), row
        assert [(b["model_type"], b["max_length"], b.get("temperature")) for b in sent] == [
            ("smollm2-135m", 600, None)], sent
        page.get_by_role("button", name="Stop").click()
        page.wait_for_function("() => document.querySelector('#generate-output').textContent.endsWith('(stopped)')",
                               timeout=60000)
        text = page.locator("#generate-output").text_content() or ""
        written = text.removesuffix(" … (stopped)")
        assert written.strip() and written != "Generating…" and not written.startswith("Generating")
        assert page.get_by_role("button", name="Stop").is_hidden()
        assert page.get_by_role("button", name="Generate").is_enabled()
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
@pytest.mark.needs_espeak
def test_the_lyrics_analysis_is_shown(browser, server, client, session_id, audio_dir, smollm2_folder, artifacts):
    """A lyrics job (Whisper, then SmolLM2, kept short through the API) and its text on the page, with the
    transcript the job made on the way."""
    from tests.test_api_sessions import upload

    wav = audio_dir / "sung.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav),
                    "Walking down the river road tonight, the rain keeps falling."], check=True)
    assert upload(client, session_id, wav).status_code == 201
    r = client.post(f"/process/lyrics/{session_id}", json={"file": "sung.wav", "model_variant": "smollm2-135m",
                                                           "temperature": 0, "max_new_tokens": 40})
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=300)
    assert job["state"] == "succeeded", job
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=sung.wav")
        page.locator("#analysis article h3", has_text="Lyrics").wait_for()
        shown = page.locator("#analysis").inner_text()
        assert job["result"]["analysis_text"].split()[0] in shown
        # its warnings too (40 tokens: "cut at max_new_tokens"); the page had shown the text alone
        assert job["result"]["warnings"] and all(w in shown for w in job["result"]["warnings"]), (shown, job["result"])
        page.locator("#transcript .word").first.wait_for()
        page.locator("#analysis").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "lyrics.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_album_art_is_shown_and_offered_to_the_llm_analyses(browser, server, client, session_id, audio_dir):
    """An image upload is album art: a thumbnail, not a track to analyse; the LLM analyses can be given it."""
    from tests.audio_synth import sine, write
    from tests.test_album_art import cover
    from tests.test_api_sessions import upload

    r = upload(client, session_id, write(audio_dir / "art-tone.wav", sine(440, 0.5)), cover(audio_dir / "sleeve.png"))
    assert r.status_code == 201, r.text
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}")
        thumb = page.get_by_role("img", name="Album art sleeve.png")
        thumb.wait_for()
        page.wait_for_function("img => img.complete && img.naturalWidth === 96", arg=thumb.element_handle())
        assert page.locator("#file-list .file-open").all_inner_texts()[0].startswith("art-tone.wav")
        assert page.locator("#file-list .file-open").count() == 1  # the image is not offered as a track
        art = page.get_by_label("Audio LLM analysis: album art")
        assert art.locator("option").all_inner_texts() == ["no album art", "with sleeve.png"]
        assert page.get_by_label("Lyrics analysis (LLM): album art").count() == 1
        assert page.get_by_label("Key, tempo, chords, melody: album art").count() == 0
        assert not problems, problems
    finally:
        context.close()


# each model job's row in the panel: its label and every state it was drawn in, recorded as they changed
RECORD_STATES = """() => new MutationObserver((records) => records.forEach((r) => {
    if (r.attributeName === 'data-state') (r.target.states ??= []).push(r.oldValue); }))
  .observe(document.querySelector('#models-jobs'), { subtree: true, attributeFilter: ['data-state'],
    attributeOldValue: true })"""
STATES_SHOWN = """() => [...document.querySelectorAll('#models-jobs li.job')].map((li) =>
  [li.querySelector('.job-type').textContent, [...(li.states ?? []), li.dataset.state]])"""


@pytest.mark.needs_chromium
def test_a_model_job_queued_behind_another_says_so(browser, server, client, smollm2_folder):
    """A stranger pressed Load, then Generate, while a transcription held the GPU worker: the panel read
    "Loading smollm2-135m…" and the box "Generating…" for as long as they waited, as if nothing were happening.
    Here a long generation sent through the API holds the worker until the test cancels it."""
    assert client.post("/api/v2/models/unload", json={"wait": 60}).status_code == 200
    context, page, problems = logged_in(browser)
    try:
        page.goto(server + "/")
        page.evaluate(RECORD_STATES)
        page.locator("#models-panel summary").click()
        load = page.get_by_role("button", name="Load smollm2-135m")
        load.wait_for()
        blocker = hold_the_gpu_worker(client)
        load.click()
        page.get_by_label("Model", exact=True).select_option("smollm2-135m")
        page.get_by_label("Tokens").fill("4")
        page.get_by_label("Generate text").fill("Name a musical key.")
        page.get_by_role("button", name="Generate").click()
        queued = page.locator("#models-jobs li.job[data-state='queued']", has_text="waiting for the GPU worker")
        queued.nth(1).wait_for()
        # each row's place in the GPU queue (`jobs_ahead`): the Load first behind the running generation, the
        # Generate behind it (the panel had said "2 jobs in its queue" on both rows alike)
        page.locator("#models-jobs li.job", has_text="Load smollm2-135m").filter(
            has_text="waiting for the GPU worker (next)").wait_for()
        page.locator("#models-jobs li.job", has_text="Generate (smollm2-135m)").filter(
            has_text="waiting for the GPU worker (1 ahead)").wait_for()
        assert page.locator("#generate-output").inner_text() == "Queued: waiting for the GPU worker…"
        assert client.delete(f"/jobs/{blocker}").status_code in (200, 202)
        page.locator("#models-jobs li.job[data-state='succeeded']").nth(1).wait_for(timeout=120000)
        shown = {label: [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]
                 for label, states in page.evaluate(STATES_SHOWN)}
        assert shown == {"Load smollm2-135m": ["sending", "queued", "running", "succeeded"],
                         "Generate (smollm2-135m)": ["sending", "queued", "running", "succeeded"]}, shown
        assert page.locator("#models-jobs li.job .state").all_inner_texts() == ["done", "done"]
        page.get_by_role("button", name="Unload smollm2-135m").wait_for()  # the table read again at the end
        assert not problems, problems
    finally:
        context.close()


def hold_the_gpu_worker(client) -> str:
    """A long SmolLM2 generation sent through the API, running once this returns: the GPU worker's next jobs wait
    behind it until it is canceled (tens of seconds otherwise). Its id. Greedy, as tests/test_run_stop.py's: sampled
    (the route's temperature 0.7), SmolLM2 ended some of its answers to this prompt within 5 to 25 tokens, a second
    or two, and the jobs meant to queue behind it did not."""
    from tests.conftest import wait_for

    blocker = client.post("/api/v2/models/generate", json={
        "prompt": "Write the numbers from 1 to 300, separated by commas.", "max_length": 600, "temperature": 0,
        "model_type": "smollm2-135m", "wait": 0}).json()["job_id"]
    wait_for(lambda: client.get(f"/jobs/{blocker}").json()["state"] == "running", timeout=120,
             message="the blocking generation running")
    return blocker


def generation_queued_behind(page, client) -> str:
    """A 4-token generation asked from the page's Models panel while the GPU worker is held; the holding job's id."""
    page.locator("#models-panel summary").click()
    page.locator("#models-rows tr[data-model='smollm2-135m']").wait_for()
    blocker = hold_the_gpu_worker(client)
    page.get_by_label("Model", exact=True).select_option("smollm2-135m")
    page.get_by_label("Tokens").fill("4")
    page.get_by_label("Generate text").fill("Name a musical key.")
    page.get_by_role("button", name="Generate").click()
    return blocker


@pytest.mark.needs_chromium
def test_load_and_unload_wait_while_a_load_from_the_page_is_on_its_way(browser, server, client, smollm2_folder):
    """A stranger's Load, queued behind another GPU job, stayed clickable: a second click queued a second load.
    Every Load and Unload now waits for it, saying on what, and is enabled again once it has ended."""
    assert client.post("/api/v2/models/unload", json={"wait": 60}).status_code == 200
    context, page, problems = logged_in(browser)
    blocker = None
    try:
        page.goto(server + "/")
        page.locator("#models-panel summary").click()
        load = page.get_by_role("button", name="Load smollm2-135m")
        load.wait_for()
        blocker = hold_the_gpu_worker(client)
        load.click()
        page.locator("#models-jobs li.job[data-state='queued']", has_text="Load smollm2-135m").wait_for()
        assert load.is_disabled() and load.get_attribute("title") == "Wait: Load smollm2-135m is queued"
        assert page.locator("#models-rows button").evaluate_all("(bs) => bs.filter((b) => !b.disabled).length") == 0
        assert client.delete(f"/jobs/{blocker}").status_code in (200, 202)
        page.locator("#models-jobs li.job[data-state='succeeded']", has_text="Load smollm2-135m").wait_for(
            timeout=120000)
        unload = page.get_by_role("button", name="Unload smollm2-135m")
        unload.wait_for()  # the table read again at the end: enabled, nothing to wait for
        assert unload.is_enabled() and unload.get_attribute("title") is None
        (load_job,) = page.locator("#models-jobs li.job", has_text="Load smollm2-135m").evaluate_all(
            "(rows) => rows.map((r) => r.dataset.job)")
        assert client.get(f"/jobs/{load_job}").json()["state"] == "succeeded"
        assert not problems, problems
    finally:
        if blocker:
            client.delete(f"/jobs/{blocker}")
        context.close()


@pytest.mark.needs_chromium
def test_a_generation_stopped_while_queued_reads_stopped_not_failed(browser, server, client, smollm2_folder):
    """A stranger's Stop of a generation still waiting for the GPU worker was answered "the job was canceled" as an
    error notice, with an empty box: the cancel they asked for read as a failure."""
    context, page, problems = logged_in(browser)
    blocker = None
    try:
        page.goto(server + "/")
        blocker = generation_queued_behind(page, client)
        page.locator("#generate-output", has_text="Queued: waiting for the GPU worker…").wait_for(timeout=60000)
        page.get_by_role("button", name="Stop").click()
        page.locator("#generate-output", has_text="Stopped before it had written anything.").wait_for(timeout=60000)
        row = page.locator("#models-jobs li.job", has_text="Generate (smollm2-135m)")
        assert row.get_attribute("data-state") == "canceled" and row.locator(".state").inner_text() == "stopped"
        assert page.locator("#notice").is_hidden(), page.locator("#notice").inner_text()
        assert page.get_by_role("button", name="Generate").is_enabled()
        assert page.get_by_role("button", name="Stop").is_hidden()
        assert not problems, problems
    finally:
        if blocker:
            client.delete(f"/jobs/{blocker}")
        context.close()


@pytest.mark.needs_chromium
def test_the_models_table_follows_a_model_loaded_elsewhere(browser, server, client, smollm2_folder):
    """A stranger loaded SmolLM2 from the command line with the page's Models panel open: the table went on saying
    "on disk" with a Load button until Refresh was pressed. It is read again while open; the keyboard stays on the
    model's row."""
    from playwright.sync_api import expect

    assert client.post("/api/v2/models/unload", json={"wait": 60}).status_code == 200
    context, page, problems = logged_in(browser)
    try:
        # the page's own timers, on a clock the test moves on: the panel's next read comes when the test has made the
        # change, not up to STATUS_EVERY_MS (5 s, web/js/models.js) later, twice a run; time runs on as usual besides
        page.clock.install()
        page.goto(server + "/")
        page.locator("#models-panel summary").click()
        row = page.locator("#models-rows tr[data-model='smollm2-135m']")
        expect(row.locator("td").first).to_have_text("on disk")  # read: the next read is planned
        row.get_by_role("button", name="Load smollm2-135m").focus()
        r = client.post("/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 120})
        assert r.status_code == 200, r.text
        page.clock.fast_forward(STATUS_EVERY_MS)
        expect(row.locator("td").first).to_have_text("loaded", timeout=30000)
        expect(page.locator("#models-current")).to_contain_text("Resident: smollm2-135m")
        expect(row.get_by_role("button", name="Unload smollm2-135m")).to_be_focused()
        assert client.post("/api/v2/models/unload", json={"wait": 60}).status_code == 200
        page.clock.fast_forward(STATUS_EVERY_MS)
        expect(row.locator("td").first).to_have_text("on disk", timeout=30000)
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
@pytest.mark.usefixtures("sung")
def test_a_cancel_made_elsewhere_is_not_read_as_this_pages_stop(browser, server, client, smollm2_folder):
    """A stranger's question, canceled from the command line while queued, read "Stopped before it had an answer."
    as if the page's Stop had been pressed; a generation so canceled read as the error "the job was canceled"."""
    from playwright.sync_api import expect

    context, page, problems = logged_in(browser)
    blocker = None
    try:
        page.goto(server + "/")
        blocker = generation_queued_behind(page, client)
        queued = page.locator("#models-jobs li.job[data-state='queued']", has_text="Generate (smollm2-135m)")
        queued.wait_for(timeout=60000)
        assert client.delete(f"/jobs/{queued.get_attribute('data-job')}").status_code == 202
        expect(page.locator("#generate-output")).to_have_text(
            "Canceled elsewhere before it had written anything: not by this page (another page, the API or the "
            "command line).")
        expect(page.locator("#models-jobs li.job .state")).to_have_text("canceled")
        assert page.locator("#notice").is_hidden(), page.locator("#notice").inner_text()

        page.locator("#library-panel summary").click()
        page.locator("#library-ask-model option[value='smollm2-135m']").wait_for(state="attached")
        page.locator("#library-ask-model").select_option("smollm2-135m")
        # a question the library's words match (one nothing matches is answered by the request, never queued: alone,
        # with no track of another test in the library, this test had failed so)
        page.get_by_label("Ask about your library").fill("Which song mentions a silver mountain train?")
        page.get_by_role("button", name="Ask", exact=True).click()
        page.locator("#library-answer p.muted", has_text="queued").wait_for(timeout=60000)
        (asked,) = client.get("/jobs", params={"type": "library_ask", "limit": 1}).json()["jobs"]
        assert asked["state"] == "queued", asked
        assert client.delete(f"/jobs/{asked['job_id']}").status_code == 202
        expect(page.locator("#library-answer")).to_have_text(
            "Canceled elsewhere before it had an answer: not by this page (another page, the API or the command "
            "line).")
        assert page.locator("#notice").is_hidden(), page.locator("#notice").inner_text()
        assert not problems, problems
    finally:
        if blocker:
            client.delete(f"/jobs/{blocker}")
        context.close()
