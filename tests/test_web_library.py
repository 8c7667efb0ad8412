"""The page's Library panel in a real browser (Debian's headless Chromium, Playwright) against the live test service:
tracks listed by their measured key and tempo, a filter the server refuses, a question answered from the
measurements, a session opened from a row; lyrics found by their words, and a question answered by SmolLM2 with
its citations (slow). The tracks are measured by real jobs first, as tests/test_cli_library.py's."""

from __future__ import annotations

import subprocess

import pytest

from tests.browser_page import logged_in
from tests.library_results import measured_songs
from tests.test_api_sessions import upload
from tests.test_time_limit_partial import ASK_LIMIT, limit_past_first_token, long_question

# words no other test sings (tests/test_web_llm.py and test_api_library.py sing of a river road): the hits and
# citations are this verse's whichever tests ran before
LYRICS = "The lantern keeper rides the silver mountain train. Snow is falling on the station."


@pytest.fixture(scope="module")
def two_songs(client, tmp_path_factory) -> str:
    return measured_songs(client, tmp_path_factory.mktemp("library-songs"))


@pytest.fixture(scope="module")
def sung(client, tmp_path_factory) -> str:
    """A session holding a spoken verse, transcribed by Whisper (tiny.en): its lines are in the library."""
    wav = tmp_path_factory.mktemp("library-sung") / "train.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav), LYRICS], check=True)
    session_id = client.post("/sessions").json()["session_id"]
    assert upload(client, session_id, wav).status_code == 201
    job = client.post(f"/process/whisper/{session_id}", json={"file": "train.wav", "model": "tiny.en"}).json()
    assert client.wait_job(job["job_id"], timeout=300)["state"] == "succeeded"
    return session_id


def clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def open_library(page, server: str, address: str = "/"):
    page.goto(server + address)
    page.locator("#library-panel summary").click()
    page.get_by_label("Key", exact=True).wait_for()


def list_tracks(page, *, key: str = "", tempo: tuple[str, str] = ("", "")) -> None:
    """Fill the filters and press List; returns once the list (or its refusal) has come back."""
    page.get_by_label("Key", exact=True).fill(key)
    page.get_by_label("Tempo from").fill(tempo[0])
    page.get_by_label("Tempo to").fill(tempo[1])
    page.get_by_role("button", name="List", exact=True).click()
    page.wait_for_function("() => document.querySelector('#library-tracks-status').textContent !== 'Listing…'")


LONG_ANSWER = "Which song mentions a silver mountain train? Then write the numbers from 1 to 300, separated by commas."


def ask_for_a_long_answer(page, server: str, question: str = LONG_ANSWER) -> None:
    """Open the Library panel and ask SmolLM2 a question whose answer runs long (it counts after the lyric)."""
    open_library(page, server)
    page.locator("#library-ask-model option[value='smollm2-135m']").wait_for(state="attached")
    page.locator("#library-ask-model").select_option("smollm2-135m")
    page.get_by_label("Ask about your library").fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()


def rows_of(page, session_id: str) -> list[list[str]]:
    """The listed rows of one session, as their cells' text (the library is the tester's, over every test)."""
    return page.locator(f"#library-rows tr[data-session='{session_id}']").evaluate_all(
        "(rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))")


@pytest.mark.needs_chromium
def test_tracks_are_listed_by_their_measured_key_and_tempo_and_a_row_opens_its_session(browser, server, client,
                                                                                      two_songs, artifacts):
    sid = two_songs
    measured = {t["filename"]: t for t in client.get("/library/tracks", params={"session_id": sid}).json()["tracks"]}
    c_major = measured["in-c.wav"]
    assert round(c_major["tempo_bpm"]) == 120 and c_major["key"]["label"] == "C major"
    context, page, problems = logged_in(browser)
    try:
        open_library(page, server)
        list_tracks(page, key="C major")
        (row,) = rows_of(page, sid)  # exactly the C-major file: file, session, key with its Camelot code, ...
        assert row[:3] == ["in-c.wav", sid, "C major (8B)"], row
        assert row[3:] == [f"{c_major['tempo_bpm']:.1f} BPM", c_major["metre"] or "–", "0:08", "music", "–"], row
        # measured as music by pitch; no transcript: vocals untold
        # a tempo range half theirs: both, marked as matching at half their tempo
        list_tracks(page, tempo=("55", "65"))
        tempi = {r[0]: r[3] for r in rows_of(page, sid)}
        assert tempi == {name: f"{t['tempo_bpm']:.1f} BPM (half)" for name, t in measured.items()}, tempi
        assert "A major (11B)" in page.locator(f"#library-rows tr[data-file='in-a.wav'][data-session='{sid}']")\
            .inner_text()
        # the row's session opens in the page, at its file
        page.get_by_role("button", name=f"Open session {sid} at in-a.wav").click()
        page.locator("#session-title", has_text=sid).wait_for()
        page.locator("#track-h", has_text="in-a.wav").wait_for()
        page.locator("#fact-key", has_text="A major").wait_for()
        assert sorted(page.locator("#file-list .file-open .name").all_inner_texts()) == ["in-a.wav", "in-c.wav"]
        # and the list can keep to it
        page.get_by_label("Only the open session").check()
        list_tracks(page, key="8B")
        assert page.locator("#library-rows tr").evaluate_all("(rows) => rows.map((r) => r.dataset.file)") \
            == ["in-c.wav"]
        assert page.locator("#library-tracks-status").inner_text() == "1 track."
        page.locator("#library-panel").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "library-tracks.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_session_deleted_elsewhere_leaves_the_list_when_found_gone(browser, server, client, two_songs, tmp_path):
    """A stranger's list kept the rows of a session deleted from another client until List was pressed again, each
    opening to "no session"; the first found gone takes its session's rows with it, the others' stay."""
    doomed = measured_songs(client, tmp_path)
    context, page, problems = logged_in(browser)
    try:
        open_library(page, server)
        list_tracks(page, key="C major")
        assert len(rows_of(page, doomed)) == 1 and len(rows_of(page, two_songs)) == 1
        assert client.delete(f"/sessions/{doomed}").status_code == 200
        page.get_by_role("button", name=f"Open session {doomed} at in-c.wav").click()
        page.locator("#library-tracks-status", has_text=f"Session {doomed} is gone").wait_for()
        assert rows_of(page, doomed) == [] and len(rows_of(page, two_songs)) == 1
        assert page.locator("#notice").inner_text() == f"session {doomed!r} does not exist"
        assert page.locator("#session-title").inner_text() == "No session open"
        assert not [p for p in problems if "404" not in p], problems  # the 404 of the open is the browser's note
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_filter_the_server_refuses_shows_its_message(browser, server, two_songs):
    context, page, _ = logged_in(browser)
    try:
        open_library(page, server)
        list_tracks(page, key="C major")
        page.locator(f"#library-rows tr[data-session='{two_songs}']").first.wait_for()
        list_tracks(page, key="H minor")
        notice = page.locator("#notice")
        notice.wait_for(state="visible")
        assert notice.inner_text() == ("key must be a key like 'A minor', 'F#m', 'Eb major' or a Camelot code "
                                       "like '8A'")
        assert "error" in (notice.get_attribute("class") or "")
        assert page.locator("#library-tracks-status").inner_text() == ""  # no "0 tracks" under the refusal
        # nor the list of the filters before, as if it answered these (a stranger's showed the old table on)
        assert page.locator("#library-tracks").is_hidden() and page.locator("#library-rows tr").count() == 0
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_question_naming_measured_facts_is_answered_without_a_model(browser, server, two_songs):
    context, page, problems = logged_in(browser)
    try:
        open_library(page, server)
        page.get_by_label("Ask about your library").fill("Which tracks are in C major, in 5/4?")
        page.get_by_role("button", name="Ask", exact=True).click()
        answer = page.locator("#library-answer .answer")
        answer.wait_for(timeout=60000)
        # the answer alone: no citations, warnings or model to name (the box had read "null" under it)
        assert page.locator("#library-answer").inner_text().strip() \
            == "No track in your library was measured in C major, in 5/4."
        assert page.get_by_role("button", name="Ask", exact=True).is_enabled()
        assert page.locator("#library-ask-stop").is_hidden()
        # asked for the list alone: the tracks measured so, each cited with what was measured, no model
        page.get_by_label("Ask about your library").fill("which tracks are in c major?")
        page.get_by_role("button", name="Ask", exact=True).click()
        cited = page.locator("#library-answer .citations li[data-file='in-c.wav']", has_text=two_songs)
        cited.wait_for(timeout=60000)
        assert "C major · 1" in cited.inner_text() and " BPM" in cited.inner_text()
        assert " measured in c major: " in page.locator("#library-answer .answer").inner_text()
        assert page.locator("#library-answer .citations li[data-file='in-a.wav']").count() == 0
        assert "no model was asked" in page.locator("#library-answer").inner_text()
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
@pytest.mark.needs_espeak
def test_a_transcribed_voice_is_listed_with_vocals_as_the_cli_lists_it(browser, server, client, sung):
    # the page had no vocals column: the CLI's `library tracks` said "yes" for a stranger's spoken clip, the page
    # nothing
    (track,) = client.get("/library/tracks", params={"session_id": sung}).json()["tracks"]
    assert track["has_vocals"] is True
    context, page, problems = logged_in(browser)
    try:
        open_library(page, server, f"/#session={sung}")
        page.locator("#session-title", has_text=sung).wait_for()
        page.get_by_label("Only the open session").check()  # the tester's library holds every test's tracks
        list_tracks(page)
        (row,) = rows_of(page, sung)
        assert row[0] == "train.wav" and row[-1] == "yes", row
        assert page.locator("#library-tracks th", has_text="Vocals").count() == 1
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
@pytest.mark.needs_espeak
def test_lyrics_are_found_by_their_words_with_the_line_and_its_time(browser, server, sung):
    context, page, problems = logged_in(browser)
    try:
        open_library(page, server)
        page.get_by_label("Search by").select_option("lyrics")
        # words no track holds: the answer says what search reads (a stranger's instrumental library had
        # answered "C minor" with nothing, and no word that key and tempo are the Tracks filters)
        page.get_by_label("Search", exact=True).fill("zzqxv")
        page.get_by_role("button", name="Search", exact=True).click()
        empty = page.locator("#library-search-status", has_text="Nothing in your library matches")
        empty.wait_for()
        said = empty.inner_text()
        assert "search reads the words of your tracks (transcripts, lyrics, LLM analyses)" in said, said
        assert "Tracks filters" in said and ("has any" in said or "have any" in said), said
        page.get_by_label("Search", exact=True).fill("silver mountain")
        page.get_by_role("button", name="Search", exact=True).click()
        hit = page.locator("#library-results li.hit", has=page.locator(f"button[data-session='{sung}']"))
        hit.wait_for()
        text = hit.inner_text()
        assert text.startswith(f"train.wav ({sung}) at 0:0") and "silver mountain" in text.lower(), text
        hit.get_by_role("button", name=f"Open session {sung} at train.wav").click()
        page.locator("#track-h", has_text="train.wav").wait_for()
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
@pytest.mark.needs_espeak
def test_a_new_search_never_shows_the_last_ones_results_as_its_own(browser, server, sung):
    """A stranger's second search listed the first one's results under "Searching…" until its answer came, read
    as answers to the new words. What the list held while each search ran is recorded as it changed."""
    context, page, problems = logged_in(browser)
    try:
        open_library(page, server)
        page.evaluate("""() => { window.whileSearching = [];
            const status = document.querySelector('#library-search-status');
            new MutationObserver(() => { if (status.textContent === 'Searching…') window.whileSearching.push(
              document.querySelectorAll('#library-results li').length); })
              .observe(status, { childList: true, characterData: true, subtree: true }); }""")
        page.get_by_label("Search by").select_option("lyrics")
        hit = page.locator("#library-results li.hit", has=page.locator(f"button[data-session='{sung}']"))
        for words in ("silver mountain", "snow station"):
            page.get_by_label("Search", exact=True).fill(words)
            page.get_by_role("button", name="Search", exact=True).click()
            hit.wait_for()
            page.wait_for_function("() => document.querySelector('#library-search-status').textContent"
                                   ".includes('found')")
        assert page.evaluate("window.whileSearching") == [0, 0]  # the second had shown the first's hits
        # a search the server refuses (nothing but spaces) leaves no results behind, said why in the notice
        page.get_by_label("Search", exact=True).fill("   ")
        page.get_by_role("button", name="Search", exact=True).click()
        page.locator("#notice", has_text="not only whitespace").wait_for()
        assert page.locator("#library-results li").count() == 0
        assert page.locator("#library-search-status").inner_text() == ""
        assert page.locator("#library-more-results").is_hidden()
        assert page.evaluate("window.whileSearching") == [0, 0, 0]
        assert not [p for p in problems if "400" not in p], problems  # the refusal's 400 is the browser's
    finally:
        context.close()


@pytest.mark.needs_chromium
@pytest.mark.needs_espeak
def test_a_question_is_answered_by_the_model_with_its_citations(browser, server, client, sung, smollm2_folder,
                                                                artifacts):
    """SmolLM2 (DEFAULT_MODEL) answers; the citations name the file, its session, the time and the line. A
    second question is stopped from the page."""
    context, page, problems = logged_in(browser)
    try:
        open_library(page, server)
        page.get_by_label("Ask about your library").fill("Which song mentions a silver mountain train?")
        page.get_by_role("button", name="Ask", exact=True).click()
        # the job is followed: its state shows, with the Stop button, until the answer replaces them
        page.get_by_role("button", name="Stop the question").wait_for()
        assert page.locator("#library-answer progress").is_visible()
        page.locator("#library-answer .answer").wait_for(timeout=240000)
        # what the page shows is the job's result (the model's choice of citations is its own)
        (job,) = client.get("/jobs", params={"type": "library_ask", "limit": 1}).json()["jobs"]
        result = job["result"]
        assert result["candidates"][0]["session_id"] == sung and result["citations"], result
        assert page.locator("#library-answer .answer").inner_text() == result["answer"].strip()
        shown = [" ".join(t.split()) for t in page.locator("#library-answer .citations li").all_inner_texts()]
        assert shown == [" ".join(f"[{c['n']}] {c['filename']} ({c['session_id']}) at {clock(c['start_seconds'])}: "
                                  f"{c['text']}".split()) for c in result["citations"]], shown
        box = page.locator("#library-answer").inner_text()
        assert "null" not in box and "undefined" not in box and result["model"] in box, box
        for warning in result["warnings"]:
            assert warning in box
        page.locator("#library-panel").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "library-answer.png"), full_page=True)
        # the model chosen on the page is the one asked: `auto` picks one and says why (the page had no choice)
        page.locator("#library-ask-model option[value='auto']").wait_for(state="attached")
        choices = page.locator("#library-ask-model option").evaluate_all("(os) => os.map((o) => o.value)")
        assert choices[:2] == ["", "auto"] and "smollm2-135m" in choices, choices
        page.locator("#library-ask-model").select_option("auto")
        page.get_by_role("button", name="Ask", exact=True).click()
        page.get_by_role("button", name="Stop the question").wait_for()
        page.locator("#library-answer .answer").wait_for(timeout=240000)
        (chosen,) = client.get("/jobs", params={"type": "library_ask", "limit": 1}).json()["jobs"]
        assert chosen["job_id"] != job["job_id"] and chosen["result"]["model_choice"]["reason"], chosen
        assert chosen["result"]["model_choice"]["reason"] in page.locator("#library-answer").inner_text()
        # stopped: the job is canceled (at its next step: the model's answer under way is finished first)
        page.locator("#library-ask-model").select_option("")
        page.get_by_role("button", name="Ask", exact=True).click()
        page.get_by_role("button", name="Stop the question").click()
        page.locator("#library-answer", has_text="Stopped before it had an answer.").wait_for(timeout=120000)
        (stopped,) = client.get("/jobs", params={"type": "library_ask", "limit": 1}).json()["jobs"]
        assert stopped["state"] == "canceled" and stopped["job_id"] != job["job_id"]
        assert page.get_by_role("button", name="Ask", exact=True).is_enabled()
        assert page.locator("#library-ask-stop").is_hidden() and page.locator("#notice").is_hidden()
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
@pytest.mark.needs_espeak
def test_a_question_stopped_while_the_model_writes_keeps_what_it_had_written(browser, server, client, sung,
                                                                             smollm2_folder):
    """Stopped after the first tokens, the answer written so far stays, marked "(stopped)" (a stranger's Stop at
    26 % had shown nothing of it). The page shows no text while the model writes: its stage, "generating", is
    reported from the first token on. The question is sent with 512 tokens (the form has no such field, the
    route does) and asks for a long answer, so the Stop lands long before the model's own end."""
    import json

    sent = []

    def more_tokens(route):
        sent.append({**json.loads(route.request.post_data or "{}"), "max_new_tokens": 512})
        route.continue_(post_data=json.dumps(sent[-1]))

    context, page, problems = logged_in(browser)
    try:
        page.route("**/library/ask", more_tokens)
        ask_for_a_long_answer(page, server)
        page.wait_for_function("() => / · generating \\d+\\/\\d+ tokens.* \\d+ %$/.test("
                               "document.querySelector('#library-answer p.muted')?.textContent ?? '')",
                               timeout=240000)
        page.get_by_role("button", name="Stop the question").click()
        answer = page.locator("#library-answer .answer")
        answer.wait_for(timeout=120000)
        (stopped,) = client.get("/jobs", params={"type": "library_ask", "limit": 1}).json()["jobs"]
        assert stopped["state"] == "canceled", stopped
        assert [b["model_type"] for b in sent] == ["smollm2-135m"], sent
        written = stopped["result"]["answer"]
        assert written and stopped["result"]["finish_reason"] == "canceled", stopped["result"]
        assert answer.inner_text() == f"{written.strip()} … (stopped)"
        assert page.get_by_role("button", name="Ask", exact=True).is_enabled()
        assert page.locator("#library-ask-stop").is_hidden() and page.locator("#notice").is_hidden()
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
@pytest.mark.needs_espeak
def test_a_question_stopped_by_the_time_limit_shows_what_it_had_written(browser, server, client, two_songs, app,
                                                                        monkeypatch, smollm2_folder):
    """Past the server's time limit the job fails with the answer so far as its `result`: the page shows it, marked
    "Stopped: partial (time limit)", beside the error's notice (it had shown the notice alone). SmolLM2 loaded
    first (its load is not the job's), then a limit past the question's first token as measured now by a short run
    of it (6 s at least), as tests/test_time_limit_partial.py's; ~13 s."""
    import json

    assert client.post("/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 300}).status_code == 200
    # a key of the library's (the prompt then reads that track, as tests/test_time_limit_partial.py's question
    # does): asked about the sung train and to count after it, the answer ended in 6.0 s and, with a list to
    # copy, in 2.7 s, under the limit
    label = client.get("/library/tracks", params={"session_id": two_songs}).json()["tracks"][0]["key"]["label"]
    asked = {"question": long_question(label), "model_type": "smollm2-135m", "max_new_tokens": 512, "wait": 300}
    limit_past_first_token(client, app, monkeypatch, "/library/ask", asked, {"max_new_tokens": 8}, ASK_LIMIT)
    context, page, problems = logged_in(browser)
    try:
        page.route("**/library/ask", lambda route: route.continue_(post_data=json.dumps(
            {**json.loads(route.request.post_data or "{}"), "max_new_tokens": 512})))
        ask_for_a_long_answer(page, server, long_question(label))
        notice = page.locator("#notice")  # the error's notice, drawn right after the answer (the same step)
        notice.wait_for(timeout=240000)
        answer = page.locator("#library-answer .answer")
        (job,) = client.get("/jobs", params={"type": "library_ask", "limit": 1}).json()["jobs"]
        assert job["state"] == "failed" and job["error"]["code"] == "time_limit_exceeded", job
        written = job["result"]["answer"]
        assert written and job["result"]["finish_reason"] == "time_limit", job["result"]
        assert answer.count() == 1 and answer.inner_text() == f"{written.strip()} … (Stopped: partial (time limit))"
        assert job["error"]["message"] in notice.inner_text(), notice.inner_text()
        assert page.get_by_role("button", name="Ask", exact=True).is_enabled()
        assert not problems, problems
    finally:
        context.close()
