"""/library/ask about a track named by its file: answered from what was measured of it, over HTTP with a real
worker indexing real analyses. A stranger's "what key is groove_000.wav in?" had been answered "Nothing in your
library matches the question" (the search reads transcripts and analyses, and the track had none) while
/library/tracks listed it in A major."""

from __future__ import annotations

import soundfile as sf

from tests.test_api_library import SR, groove, run
from tests.test_api_sessions import upload


def test_a_question_naming_a_file_is_answered_from_its_measurements(client, other_client, session_id, audio_dir):
    sf.write(audio_dir / "named-groove.wav", groove(9, 120.0, 0), SR)
    assert upload(client, session_id, audio_dir / "named-groove.wav").status_code == 201
    run(client, f"/process/pitch/{session_id}", {"file": "named-groove.wav", "include": ["key", "tempo"]})
    track = client.get("/library/tracks", params={"session_id": session_id}).json()["tracks"][0]
    key, bpm = track["key"], track["tempo_bpm"]
    assert key and bpm

    # answered in the request (200 at wait 0, no model), naming what was measured; any case of the name
    for question in ("What key is named-groove.wav in?", "what is the tempo of NAMED-GROOVE.WAV?",
                     f"Is named-groove.wav in {'C' if key['label'] != 'C major' else 'D'} major?"):
        r = client.post("/library/ask", json={"question": question, "wait": 0})
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["model"] is None and got["cited_by"] == "measurements", got
        assert got["answer"].startswith(f"named-groove.wav (session {session_id}) was measured in "
                                        f"{key['label']} ({key['camelot']}), at {bpm:.1f} BPM"), got["answer"]
        assert [c["track_id"] for c in got["citations"]] == [track["track_id"]]
        assert got["citations"][0]["measured"]["key"] == key["label"]
        assert [name.lower() for name in got["measured_filter"]["files"]] == ["named-groove.wav"]
    jobs = client.get("/jobs", params={"type": "library_ask", "limit": 1}).json()["jobs"]
    assert jobs[0]["state"] == "succeeded" and jobs[0]["stage"] == "done (answered from the measurements)"

    # a name the library does not hold is told so, and so is another user's file
    for who in (client, other_client):
        told = who.post("/library/ask", json={"question": "what key is nosuch.wav in?" if who is client
                                              else "What key is named-groove.wav in?", "wait": 0}).json()
        assert told["answer"].startswith("No track in your library is named ") and told["citations"] == [], told
        assert told["model"] is None


def test_an_answer_cut_at_max_new_tokens_says_so(client, session_id, audio_dir, smollm2_folder):
    """A stranger's answer ended mid-quote (finish_reason "length") with no warning, and the CLI printed it as if
    whole; a comparison or an analysis cut so says it."""
    sf.write(audio_dir / "cut-groove.wav", groove(2, 100.0, 1), SR)
    assert upload(client, session_id, audio_dir / "cut-groove.wav").status_code == 201
    run(client, f"/process/pitch/{session_id}", {"file": "cut-groove.wav", "include": ["key", "tempo"]})
    label = client.get("/library/tracks", params={"session_id": session_id}).json()["tracks"][0]["key"]["label"]
    r = client.post("/library/ask", json={"question": f"Which song in {label} would suit a long summer evening?",
                                          "wait": 300, "model_type": "smollm2-135m", "max_new_tokens": 8})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["model"] == "smollm2-135m" and got["finish_reason"] == "length", got
    assert got["warnings"][0] == ("the answer was cut at max_new_tokens (finish_reason: length); ask with more "
                                  "max_new_tokens"), got["warnings"]
