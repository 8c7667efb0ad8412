"""An admin on the web page, in another user's session (a real browser, a real server and worker).

A stranger's trial: admin alice opened bob's session by its link and saw bob's files, but her upload there made a
session of that id of her own (ids are per owner; an admin's upload without `?owner=` goes to her own), the page
showed hers from then on, and her Runs and deletes reached hers or nothing. The page now keeps the owner the session
read names, sends `?owner=` with every request about that session, keeps it in its address and says whose it is.
"""

from __future__ import annotations

import uuid

import pytest

from tests.browser_page import logged_in
from tests.conftest import ADMIN, ADMIN_PASSWORD, USER
from tests.test_web_page import run_from_the_page


@pytest.mark.needs_chromium
def test_an_admins_upload_and_run_in_a_users_session_land_in_it(browser, server, client, admin_client, audio_dir):
    from playwright.sync_api import expect

    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    sid = f"theirs-{uuid.uuid4().hex[:8]}"
    assert upload(client, sid, write(audio_dir / "theirs.wav", sine(440, 0.5))).status_code == 201
    mine = write(audio_dir / "by-admin.wav", sine(660, 0.5))
    context, page, problems = logged_in(browser, user=ADMIN, password=ADMIN_PASSWORD)
    try:
        page.goto(f"{server}/#session={sid}")  # a link without its owner, as older pages wrote them
        page.locator("#file-list li.file[data-file='theirs.wav']").wait_for()
        expect(page.locator("#session-owner")).to_contain_text(f"{USER}'s session")
        page.wait_for_function("(owner) => new URLSearchParams(location.hash.slice(1)).get('owner') === owner",
                               arg=USER)

        page.locator("#file-input").set_input_files(str(mine))
        page.locator("#file-list li.file[data-file='by-admin.wav']").wait_for()
        run_from_the_page(page, "by-admin.wav", tick=["Features picture"], untick=["Key, tempo, chords, melody"])
        page.locator("#job-list li.job.succeeded", has_text="by-admin.wav").wait_for(timeout=60000)

        # in the user's session, theirs to see; no session of that id of the admin's was made
        theirs = client.get(f"/sessions/{sid}").json()
        assert sorted(f["name"] for f in theirs["files"]) == ["by-admin.wav", "theirs.wav"]
        assert "features_by-admin.json" in [r["name"] for r in theirs["results"]]
        assert [j["owner"] for j in theirs["jobs"]] == [USER]
        assert admin_client.get(f"/sessions/{sid}?owner={ADMIN}").status_code == 404

        # the address keeps the owner: a reload opens the same session, said to be the user's
        page.reload()
        page.locator("#file-list li.file[data-file='by-admin.wav']").wait_for()
        expect(page.locator("#session-owner")).to_contain_text(f"{USER}'s session")
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_link_naming_the_owner_opens_theirs_where_the_admin_has_the_same_id(browser, server, client, admin_client,
                                                                             audio_dir):
    """Ids are per owner: the admin's own session of the id comes first for a read without `?owner=`; a link with
    `&owner=` opens the user's, and the admin's own shows no owner label."""
    from playwright.sync_api import expect

    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    sid = f"twice-{uuid.uuid4().hex[:8]}"
    assert upload(client, sid, write(audio_dir / "user-side.wav", sine(440, 0.5))).status_code == 201
    assert upload(admin_client, sid, write(audio_dir / "admin-side.wav", sine(550, 0.5))).status_code == 201
    context, page, problems = logged_in(browser, user=ADMIN, password=ADMIN_PASSWORD)
    try:
        # the audio the track reads is asked of the user's session too (the admin's own has no user-side.wav)
        with page.expect_response(lambda r: "/files/user-side.wav" in r.url) as audio:
            page.goto(f"{server}/#session={sid}&owner={USER}")
        assert audio.value.status == 200 and f"owner={USER}" in audio.value.url
        page.locator("#file-list li.file[data-file='user-side.wav']").wait_for()
        expect(page.locator("#session-owner")).to_contain_text(f"{USER}'s session")
        expect(page.locator("#file-list li.file[data-file='admin-side.wav']")).to_have_count(0)

        page.evaluate("(sid) => { location.hash = `session=${sid}`; }", sid)  # the admin's own
        page.locator("#file-list li.file[data-file='admin-side.wav']").wait_for()
        expect(page.locator("#session-owner")).to_be_hidden()
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.needs_chromium
def test_a_link_to_an_id_several_users_hold_says_how_to_name_one(browser, server, client, other_client, audio_dir):
    """The server's 409 `ambiguous_session` names the owners; the page says to name one in its address (its bare
    "name the one meant with ?owner=<name>" spoke of the API), and that address opens theirs."""
    from tests.audio_synth import sine, write
    from tests.conftest import OTHER
    from tests.test_api_sessions import upload

    sid = f"shared-{uuid.uuid4().hex[:8]}"
    assert upload(client, sid, write(audio_dir / "one.wav", sine(440, 0.5))).status_code == 201
    assert upload(other_client, sid, write(audio_dir / "two.wav", sine(550, 0.5))).status_code == 201
    context, page, problems = logged_in(browser, user=ADMIN, password=ADMIN_PASSWORD)
    try:
        page.goto(f"{server}/#session={sid}")
        first = sorted([USER, OTHER])[0]
        page.locator("#notice", has_text=f"Several users have a session {sid} ({', '.join(sorted([USER, OTHER]))}): "
                     f"add &owner=<name> to the address (#session={sid}&owner={first}) to open one.").wait_for()
        page.evaluate("(hash) => { location.hash = hash; }", f"session={sid}&owner={OTHER}")
        page.locator("#file-list li.file[data-file='two.wav']").wait_for()
        assert not [p for p in problems if "409" not in p], problems
    finally:
        context.close()
