"""/library/ask by an admin about another user's library (?owner=): the answer names whose library it is.

A stranger's admin asked about a user's library and was answered "your library ..." (the fixed sentences of
library/ask.py), as if about the admin's own. Real server, Redis, workers and library (tests/conftest.py)."""

from __future__ import annotations

from tests.conftest import ADMIN, USER

# a metre no test's track is measured in: the answers below say no track was, whatever the libraries hold
QUESTION = "Which tracks are in 13/16?"


def test_an_admin_asking_about_a_users_library_is_told_whose_it_is(client, admin_client):
    # answered by the request (the measurements alone)
    theirs = admin_client.post("/library/ask", params={"owner": USER}, json={"question": QUESTION, "wait": 0})
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["answer"] == f"No track in the library of {USER} was measured in 13/16."
    # the owner, and the admin about their own library, are told "your library" as before
    for who, params in ((client, {}), (admin_client, {})):
        own = who.post("/library/ask", params=params, json={"question": QUESTION, "wait": 0}).json()
        assert own["answer"] == "No track in your library was measured in 13/16.", own
    mine = admin_client.post("/library/ask", params={"owner": ADMIN},
                             json={"question": QUESTION, "wait": 0}).json()
    assert mine["answer"] == "No track in your library was measured in 13/16.", mine


def test_the_worker_names_whose_library_too(client, admin_client):
    """A question that needs the worker (a superlative with more to it than the ranking) whose filter finds no
    track: the job answers it without a model, with the library's owner named as the request would."""
    question = "which slowest song in 13/16 mentions rain?"
    r = admin_client.post("/library/ask", params={"owner": USER}, json={"question": question, "wait": 0})
    assert r.status_code in (200, 202), r.text
    job = admin_client.wait_job(r.json()["job_id"], timeout=300)
    assert job["state"] == "succeeded", job
    assert job["result"]["answer"] == f"No track in the library of {USER} was measured in 13/16.", job["result"]
    assert job["result"]["model"] is None
    own = client.post("/library/ask", json={"question": question, "wait": 0}).json()
    assert client.wait_job(own["job_id"], timeout=300)["result"]["answer"] == \
        "No track in your library was measured in 13/16."


def test_a_missing_track_names_whose_library_it_is_missing_from(client, admin_client):
    """`GET /library/tracks/<id>` and `.../similar` by an admin with ?owner= had answered track_not_found "no track
    ... in your library", as if the admin's own library had been looked in."""
    for path in ("/library/tracks/nosuchtrack", "/library/tracks/nosuchtrack/similar"):
        theirs = admin_client.get(path, params={"owner": USER})
        assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "track_not_found", theirs.text
        assert theirs.json()["error"]["message"] == f"no track 'nosuchtrack' in the library of {USER}", theirs.text
        for who, params in ((client, {}), (admin_client, {"owner": ADMIN})):  # one's own: "your library" as before
            own = who.get(path, params=params)
            assert own.status_code == 404 and own.json()["error"]["message"] == \
                "no track 'nosuchtrack' in your library", own.text


def test_nothing_matching_names_whose_library(tmp_path):
    """The request's "nothing matches" answer in an admin's words about another user's library. On a library of
    its own: the suite's shared one holds other tests' tracks, and a whole run's had matched the question."""
    from library.ask import unmatched_answer, whose_library
    from library.service import Library

    library = Library({"DATA_DIR": str(tmp_path), "DATABASE_URL": "", "TORCH_NUM_THREADS": 1})
    try:
        told = unmatched_answer(library, owner=USER, question="which qwzx song has zyxwv blorptangle drums?",
                                whose=whose_library(owner=USER, asker=ADMIN))
    finally:
        library.db.close()
    assert told is not None and told["answer"].startswith(f"Nothing in the library of {USER} matches the question.")
