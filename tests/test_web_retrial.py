"""What a second stranger's trial of the web page found, in a real browser (Debian's headless Chromium driven by
Playwright, against the live test service): of several files dropped, the one that finished uploading first was
opened; thirty Run buttons read alike; the player and the waveform downloaded the track twice; and a second tab read
the whole session once per file uploaded in the first. Uploads are held back with Playwright's routing (the
request waits, unanswered, until the test lets it go), never with sleeps."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser_page import logged_in
from tests.conftest import USER
from tests.test_web_access import violations
from tests.test_web_page import drop_files


@pytest.mark.needs_chromium
def test_of_several_files_dropped_the_first_dropped_is_opened(browser, server, audio_dir):
    """A stranger dropped a long take and a short one: the short one, stored first, was opened. The first dropped is
    opened once it is stored; the other is listed meanwhile, not opened."""
    from tests.audio_synth import sine, write

    # named so that the list's order (a-... first) would open the wrong one too
    first, second = write(audio_dir / "b-first.wav", sine(330, 0.5)), write(audio_dir / "a-second.wav", sine(550, 0.5))
    held = []

    def hold_the_first(route):
        if b'filename="b-first.wav"' in (route.request.post_data_buffer or b""):
            held.append(route)
        else:
            route.continue_()

    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/")
        page.locator("#session-list li").first.wait_for()
        page.route("**/sessions/*/files", hold_the_first)
        drop_files(page, "#drop-zone", [first, second])
        page.locator("#file-list li.file[data-file='a-second.wav']").wait_for()
        assert held, "the first upload is held"
        expect(page.locator("#track-h")).to_have_text("No file selected")  # it had read a-second.wav
        held[0].continue_()
        expect(page.locator("#track-h")).to_have_text("b-first.wav")
        expect(page.locator("#file-list li.file.current")).to_have_attribute("data-file", "b-first.wav")
        assert "file=b-first.wav" in page.evaluate("location.hash")
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_session_opened_while_files_upload_into_another_opens_its_file(browser, server, client, session_id,
                                                                         audio_dir):
    """While a batch's file to open was unknown, every session read opened no file: one opened meanwhile from the
    list read "No file selected" until the upload into the other had ended."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "here.wav", sine(440, 0.5))).status_code == 201
    held, making = [], []

    def hold_the_new_session(route):
        if route.request.method == "POST":
            making.append(route)
        else:
            route.continue_()

    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/")
        page.locator("#session-list li").first.wait_for()
        page.route("**/sessions/*/files", lambda route: held.append(route))
        page.route(re.compile(r"/sessions$"), hold_the_new_session)
        drop_files(page, "#drop-zone", [write(audio_dir / "away.wav", sine(660, 0.5))])
        page.locator("#upload-list li.upload", has_text="away.wav").wait_for()
        page.evaluate(f"() => {{ location.hash = 'session={session_id}'; }}")
        expect(page.locator("#track-h")).to_have_text("here.wav")
        # the session for the dropped file is made only now, after the other was opened: it had taken the page
        # over (a whole run's order: its read of here's session then drew nothing, "No file selected")
        assert making, "the new session is held"
        with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/files")):
            making[0].continue_()
        expect(page.locator("#session-title")).to_have_text(f"Session {session_id}")
        expect(page.locator("#track-h")).to_have_text("here.wav")
        assert held, "the upload is held"
        held[0].continue_()
        page.locator("#upload-list li.upload.ok", has_text="away.wav").wait_for()
        expect(page.locator("#track-h")).to_have_text("here.wav")  # the batch's file is another session's
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_each_run_button_says_what_it_runs_on_which_file(browser, server, client, session_id, audio_dir):
    """A stranger's screen reader listed the Files panel's buttons as "Run", "Run", "Run"... (one per file), each
    form's fields the same. A Run names what is ticked and the file; one file's analyses are open at a time."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    names = ["t1.wav", "t2.wav", "t3.wav"]
    for i, name in enumerate(names):
        assert upload(client, session_id, write(audio_dir / name, sine(300 + 20 * i, 0.3))).status_code == 201
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=t1.wav")
        for name in names:
            row = page.locator(f"#file-list li.file[data-file='{name}']")
            if row.locator("details").get_attribute("open") is None:
                row.locator("summary").click()
            expect(row.locator("summary")).to_have_accessible_name(f"Analyse… {name}")
            expect(row.get_by_role("button", name=re.compile("^Run"))).to_have_accessible_name(
                f"Run Key, tempo, chords, melody; Features picture on {name}")
            expect(page.locator("#file-list details[open]")).to_have_count(1)  # the others' closed
        row = page.locator("#file-list li.file[data-file='t3.wav']")
        row.get_by_label("Stems", exact=True).check()
        run = row.get_by_role("button", name=re.compile("^Run"))
        expect(run).to_have_accessible_name("Run Key, tempo, chords, melody; Features picture; Stems on t3.wav")
        for label in ("Key, tempo, chords, melody", "Features picture", "Stems"):
            row.get_by_label(label, exact=True).uncheck()
        expect(run).to_have_accessible_name("Run on t3.wav: tick an analysis first")
        assert violations(page) == []
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_the_player_and_the_waveform_share_one_download(browser, server, client, session_id, audio_dir):
    """The player fetched the track and the waveform fetched it again: every byte twice (on a slow link, twice the
    wait). The waveform's download is what the player plays."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "once.wav", sine(440, 2.0))).status_code == 201
    context, page, problems = logged_in(browser)
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if r.url.startswith(server) and "/files/once.wav" in r.url
            else None)
    try:
        page.goto(f"{server}/#session={session_id}&file=once.wav")
        page.locator("#track-h", has_text="once.wav").wait_for()
        page.wait_for_function("() => !document.querySelector('#track-status').textContent.includes('Loading')")
        page.evaluate("() => document.querySelector('#player').play()")
        page.wait_for_function("() => document.querySelector('#player').currentTime > 0.3")
        assert len(fetched) == 1, fetched
        assert page.evaluate("() => document.querySelector('#player').src").startswith("blob:")
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_another_tab_reads_the_session_once_for_a_burst_of_uploads(browser, server, client, session_id, audio_dir):
    """Four files dropped in one tab: the other tab of the session read it whole four times at once (each read with
    the results of the file it opens). News coming while it reads is one more read after it."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "burst0.wav", sine(330, 0.3))).status_code == 201
    files = [write(audio_dir / f"burst{i}.wav", sine(330 + 30 * i, 0.3)) for i in range(1, 5)]
    context, one, problems = logged_in(browser)
    other = context.new_page()
    try:
        for page in (one, other):
            page.goto(f"{server}/#session={session_id}&file=burst0.wav")
            page.locator("#file-list li.file[data-file='burst0.wav']").wait_for()
        reads: list[str] = []
        held: list | None = []  # the reads waiting on the test, while it holds them

        def is_read(request) -> bool:
            return request.method == "GET" and request.url.endswith(f"/sessions/{session_id}")

        def hold(route):
            if held is not None:
                held.append(route)
            else:
                route.continue_()

        # the reads are counted at their request event, told to the test as it comes (a route handler runs later,
        # in a task of its own: counted there, the first read could still be untold after the wait below)
        other.on("request", lambda request: reads.append(request.url) if is_read(request) else None)
        other.route(f"**/sessions/{session_id}", hold)
        # what the other tab hears, counted beside the page's own listener (created after it: told after it)
        other.evaluate("() => { window.heard = 0; new BroadcastChannel('music-analyzer-sessions')"
                       ".addEventListener('message', () => { window.heard += 1; }); }")
        with other.expect_request(is_read):  # the first read has reached the browser's network (and is held)
            drop_files(one, "#drop-zone", files)
        other.wait_for_function("() => window.heard >= 4")
        assert len(reads) == 1, reads  # four reads at once, each waiting on the server, before
        waiting, held = held, None
        for route in waiting:
            route.continue_()
        for i in range(1, 5):
            other.locator(f"#file-list li.file[data-file='burst{i}.wav']").wait_for()
        assert len(reads) <= 2, reads  # and one more once it answered
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_the_tracks_downloads_are_named_apart(browser, server, client, settings, session_id, audio_dir):
    """A stranger's screen reader listed the track's links as "Download", "Download" (one per stem), "JSON", "Text"
    and "Text" (the key and tempo's, the transcript's): each now names what it holds."""
    import json

    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload, user_session_dir
    from tests.web_results import pitch_of, put_results

    assert upload(client, session_id, write(audio_dir / "named.wav", sine(440, 1.0))).status_code == 201
    put_results(settings, session_id, "named.wav", pitch_of(1.0), stems=("harmonic", "percussive"))
    results = user_session_dir(settings, USER, session_id) / "results"
    (results / "pitch_named.txt").write_text("Key: C major\n")
    (results / "transcript_named.json").write_text(json.dumps({"segments": [
        {"start": 0.1, "end": 0.8, "text": " la la", "words": [{"start": 0.1, "end": 0.4, "word": " la"},
                                                              {"start": 0.4, "end": 0.8, "word": " la"}]}]}))
    (results / "transcript_named.txt").write_text("la la\n")
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=named.wav")
        page.locator("#mixer tr[data-stem='percussive']").wait_for()
        page.locator("#subtitle-links a").first.wait_for()
        page.locator("#pitch-downloads a").first.wait_for()
        names = page.locator("#main a[href]").evaluate_all(
            "(links) => links.map((a) => a.getAttribute('aria-label') || a.textContent.trim())")
        assert {"Download harmonic", "Download percussive", "Transcript as text"} <= set(names), names
        assert len(names) == len(set(names)), names
        assert violations(page) == []
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_the_analyses_open_stay_open_when_the_list_is_drawn_again(browser, server, client, session_id, audio_dir):
    """The file list is drawn again at every job's end and read of the session: the analyses the user had opened
    (another file's than the one playing) closed under their hand, the open file's opening instead."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    for name in ("o1.wav", "o2.wav"):
        assert upload(client, session_id, write(audio_dir / name, sine(440, 0.3))).status_code == 201
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=o1.wav")
        first, second = (page.locator(f"#file-list li.file[data-file='{n}'] details") for n in ("o1.wav", "o2.wav"))
        expect(first).to_have_attribute("open", "")
        second.locator("summary").click()
        second.get_by_label("Stems", exact=True).check()
        page.evaluate("() => { document.querySelector('#file-list li.file').dataset.drawn = 'before';"
                      " document.dispatchEvent(new Event('visibilitychange')); }")  # the session read again
        page.wait_for_function("() => !document.querySelector('#file-list li.file[data-drawn]')")  # and drawn
        expect(second).to_have_attribute("open", "")
        expect(first).not_to_have_attribute("open", "")
        assert second.get_by_label("Stems", exact=True).is_checked()
        page.locator("#file-list li.file[data-file='o2.wav'] .file-open").click()  # selecting it keeps it open
        expect(page.locator("#file-list li.file.current")).to_have_attribute("data-file", "o2.wav")
        expect(second).to_have_attribute("open", "")
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_run_waits_while_its_analyses_are_being_started(browser, server, client, session_id, audio_dir):
    """On a slow link a stranger pressed Run, saw nothing happen, and pressed it again: every analysis started
    twice. The Run waits ("Starting…", the keyboard kept on it) until its analyses have answered, and each job is
    listed as soon as it has started."""
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    assert upload(client, session_id, write(audio_dir / "twice.wav", sine(440, 0.3))).status_code == 201
    held = []
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=twice.wav")
        row = page.locator("#file-list li.file[data-file='twice.wav']")
        run = row.locator("button.run")
        expect(run).to_have_accessible_name("Run Key, tempo, chords, melody; Features picture on twice.wav")
        page.route("**/process/features/*", lambda route: held.append(route))
        run.focus()
        page.keyboard.press("Enter")
        page.locator("#job-list li.job", has_text="Key, tempo").wait_for()  # the first listed, the second held
        expect(run).to_have_text("Starting…")
        expect(run).to_be_disabled()
        expect(run).to_be_focused()
        page.keyboard.press("Enter")  # a second press starts nothing
        assert len(held) == 1, held
        held[0].continue_()
        expect(run).to_have_text("Run")
        expect(run).to_be_enabled()
        expect(page.locator("#job-list li.job")).to_have_count(2)
        assert len(client.get(f"/sessions/{session_id}").json()["jobs"]) == 2
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_each_refused_uploads_dismiss_names_its_file(browser, server, session_id, audio_dir):
    """Three files refused at once: three buttons read "Dismiss" alike, with nothing to tell which goes."""
    fakes = []
    for i in range(3):
        fakes.append(audio_dir / f"fake{i}.mp3")
        fakes[-1].write_text("not audio at all\n" * 50)
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}")
        page.locator("#file-input").set_input_files([str(f) for f in fakes])
        expect(page.locator("#upload-list li.upload.failed")).to_have_count(3)
        for i in range(3):
            page.get_by_role("button", name=f"Dismiss the refused upload of fake{i}.mp3", exact=True).wait_for()
        page.get_by_role("button", name="Dismiss the refused upload of fake1.mp3").click()
        expect(page.locator("#upload-list li.upload.failed")).to_have_count(2)
        expect(page.locator("#upload-list li.upload", has_text="fake1.mp3")).to_have_count(0)
        assert not [p for p in problems if "Failed to load resource" not in p], problems  # the refusals
    finally:
        context.close()


class Restarting:
    """A front with no server behind it while `down`: 502 for everything but the page's own files."""

    def __init__(self, app):
        self.app, self.down = app, False

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        if self.down and not (path == "/" or path.startswith("/web/")):
            start_response("502 Bad Gateway", [("Content-Type", "text/html")])
            return [b"<html><body><h1>502 Bad Gateway</h1></body></html>"]
        return self.app(environ, start_response)


@pytest.mark.needs_chromium
def test_a_server_restarting_is_one_notice_gone_once_it_is_back(app, browser, client, session_id, audio_dir):
    """A stranger restarted the server with the page open: three notices read the bare "the server answered 502"
    (the session's read, the upload's, the models'), a file dropped meanwhile vanished from the upload list, and the
    notices stayed once the server was back."""
    from tests.audio_synth import sine, write
    from tests.conftest import serving
    from tests.test_api_sessions import upload
    from tests.test_web_llm import STATUS_EVERY_MS

    assert upload(client, session_id, write(audio_dir / "away0.wav", sine(300, 0.5))).status_code == 201
    dropped = write(audio_dir / "away1.wav", sine(500, 0.5))
    front = Restarting(app)
    with serving(front) as base:
        context, page, _ = logged_in(browser)
        try:
            page.clock.install()  # the models' next read when the test moves the clock on, not up to 5 s later
            page.goto(f"{base}/#session={session_id}&file=away0.wav")
            page.locator("#file-list li.file[data-file='away0.wav']").wait_for()
            page.locator("#models-panel summary").click()
            page.locator("#models-rows tr").first.wait_for()
            front.down = True
            page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")  # the session read again
            page.locator("#file-input").set_input_files(str(dropped))
            failed = page.locator("#upload-list li.upload.failed", has_text="away1.wav")
            expect(failed).to_contain_text("The server is not answering")
            notices = page.locator("#notice p.notice")
            expect(notices).to_have_count(1)
            expect(notices).to_contain_text("The server is not answering (restarting?)")
            front.down = False
            page.clock.fast_forward(STATUS_EVERY_MS)
            expect(notices).to_have_count(0, timeout=15000)  # the models' next read answered
        finally:
            context.close()


@pytest.mark.needs_chromium
def test_the_model_choices_are_left_alone_when_the_status_is_read_again(browser, server):
    """The models' status is read every few seconds while the panel is open: the model drop-downs (Generate's, and
    Ask's) were drawn anew each time, closing under the user's hand."""
    from tests.test_web_llm import STATUS_EVERY_MS

    context, page, problems = logged_in(browser)
    try:
        # the page's timers on a clock the test moves on: each read comes when the test asks, not STATUS_EVERY_MS
        # (5 s) later, twice (10 s of the test's 12 had been waiting for them); time runs on as usual besides
        page.clock.install()
        page.goto(f"{server}/")
        page.locator("#library-panel summary").click()
        page.locator("#models-panel summary").click()
        page.locator("#models-rows tr").first.wait_for()
        page.evaluate("() => { for (const s of ['#generate-model', '#library-ask-model'])"
                      " document.querySelector(s).options[0].dataset.kept = 'yes'; }")
        for _ in range(2):  # two reads of the status after it
            with page.expect_response("**/api/v2/models/status", timeout=15000):
                page.clock.fast_forward(STATUS_EVERY_MS)
        assert page.evaluate("() => ['#generate-model', '#library-ask-model']"
                             ".map((s) => document.querySelector(s).options[0].dataset.kept)") == ["yes", "yes"]
        assert not problems, problems
    finally:
        context.close()
