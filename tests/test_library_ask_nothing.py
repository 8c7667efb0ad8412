"""A library question nothing matches is told so by the request, no worker waited for.

A stranger's "which song has fast drums?" (a library of instrumental game tracks and one spoken clip) waited 43 s
behind a transcription on the GPU queue to be told "Nothing in your library matches the question": the search
that found nothing ran in the GPU worker. Real server, worker, library and embedder (tests/conftest.py)."""

from __future__ import annotations

import uuid

from library.ask import NOT_ENGLISH_NOTE, NOTHING_FOUND, NOTHING_FOUND_AS


def test_a_question_nothing_matches_is_answered_by_the_request(other_client):
    # other_client's library holds no words near these (nor any measured fact the question names)
    question = "which qwzx song has zyxwv blorptangle drums?"
    r = other_client.post("/library/ask", json={"question": question, "wait": 0})
    assert r.status_code == 200, r.text  # at wait 0 a queued job is 202: this one was answered, whatever the queue
    told = r.json()
    assert told["answer"] == NOTHING_FOUND and told["model"] is None and told["candidates"] == []
    assert told["citations"] == [] and told["measured_filter"] is None
    job = other_client.get(f"/jobs/{told['job_id']}").json()
    assert job["state"] == "succeeded" and job["stage"] == "done (nothing in the library matches)"


def test_a_question_in_another_language_is_told_questions_are_matched_in_english(app, admin_client):
    """A stranger's French question was told nothing matched, not that the search reads English only. A library of
    the test's own (an admin's ?owner=), empty: nothing matches any question there."""
    owner = f"lang-{uuid.uuid4().hex[:8]}"
    app.extensions["music_analyzer"].sessions.of(owner).create("s")
    whose = f"the library of {owner}"
    for question, note in (("Quelle chanson parle de la pluie ?", True), ("Какая песня о любви?", True),
                           ("Which song is about the rain?", False)):
        r = admin_client.post("/library/ask", params={"owner": owner}, json={"question": question, "wait": 0})
        assert r.status_code == 200, r.text
        told = NOTHING_FOUND_AS.format(library=whose)
        assert r.json()["answer"] == (f"{told} {NOT_ENGLISH_NOTE}" if note else told), r.json()
        assert r.json()["model"] is None and r.json()["candidates"] == []
