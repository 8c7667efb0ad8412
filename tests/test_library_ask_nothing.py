"""A library question nothing matches is told so by the request, no worker waited for.

A stranger's "which song has fast drums?" (a library of instrumental game tracks and one spoken clip) waited 43 s
behind a transcription on the GPU queue to be told "Nothing in your library matches the question": the search
that found nothing ran in the GPU worker. Real server, worker, library and embedder (tests/conftest.py)."""

from __future__ import annotations

from library.ask import NOTHING_FOUND


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
