"""The Library panel's `content` (speech or music, as the pitch job measured each track) in a real browser (Debian's
headless Chromium, Playwright) against the live test service: a Content column and filter in Tracks, "In" in Search,
and axe-core on the panel so filled. The panel had no word of it: an audiobook was listed among the songs with
nothing to tell it apart. The track is spoken by espeak-ng, transcribed and measured by real jobs first."""

from __future__ import annotations

import pytest

from tests.browser_page import logged_in
from tests.library_results import spoken_track
from tests.test_web_access import violations
from tests.test_web_library import open_library, rows_of


def list_content(page, content: str) -> None:
    """Pick the Content filter and press List; returns once the list (or its refusal) has come back."""
    page.get_by_label("Content", exact=True).select_option(content)
    page.get_by_role("button", name="List", exact=True).click()
    page.wait_for_function("() => document.querySelector('#library-tracks-status').textContent !== 'Listing…'")


def search_in(page, words: str, content: str) -> str:
    """Search `words` by lyrics in the tracks of `content` ('' for every track); the status once answered."""
    page.get_by_label("Search by").select_option("lyrics")
    page.get_by_label("In", exact=True).select_option(content)
    page.get_by_label("Search", exact=True).fill(words)
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_function("() => !['', 'Searching…'].includes("
                           "document.querySelector('#library-search-status').textContent)")
    return page.locator("#library-search-status").inner_text()


@pytest.mark.needs_chromium
@pytest.mark.needs_espeak
def test_content_is_shown_and_filtered_on_in_tracks_and_search(browser, server, client, tmp_path):
    sid = spoken_track(client, tmp_path)
    (track,) = client.get("/library/tracks", params={"session_id": sid}).json()["tracks"]
    assert track["content"] == "speech", track
    context, page, problems = logged_in(browser)
    try:
        open_library(page, server, f"/#session={sid}")
        page.locator("#session-title", has_text=sid).wait_for()
        page.get_by_label("Only the open session").check()  # the tester's library holds every test's tracks
        list_content(page, "speech")
        (row,) = rows_of(page, sid)
        assert row[0] == "talk.wav" and row[-2:] == ["speech", "yes"], row  # content, then vocals
        assert page.locator("#library-tracks thead th").all_inner_texts()[-2:] == ["Content", "Vocals"]
        assert violations(page) == [], "the library's tracks with their content"
        list_content(page, "music")
        assert rows_of(page, sid) == []
        assert page.locator("#library-tracks-status").inner_text() == "No track in your library matches."
        list_content(page, "silence")  # the silent files (tests/test_api_library.py), none of them here
        assert rows_of(page, sid) == []
        assert page.locator("#library-tracks-status").inner_text() == "No track in your library matches."
        list_content(page, "")
        assert [r[0] for r in rows_of(page, sid)] == ["talk.wav"]
        # search: kept to the speech its words are found in, none of it in the music
        hit = page.locator("#library-results li.hit", has=page.locator(f"button[data-session='{sid}']"))
        assert "found" in search_in(page, "the fishing boats came home", "speech") and hit.count() == 1
        search_in(page, "the fishing boats came home", "music")
        assert hit.count() == 0
        said = search_in(page, "zzqxv", "music")
        assert said == "Nothing in your library matches “zzqxv” in the tracks measured as music " \
                       "(“In: every track” searches them all).", said
        assert violations(page) == [], "the library's search kept to music"
        assert not problems, problems
    finally:
        context.close()
