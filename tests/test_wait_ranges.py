"""`wait` as each route reads it: one check per route with its own range, always `invalid_wait`, and never part
of what an Idempotency-Key compares (a stranger's findings on the model, ask and process routes)."""

from __future__ import annotations

import uuid

from tests.audio_synth import sine, write
from tests.test_api_sessions import upload


def test_a_model_or_ask_routes_wait_is_checked_once_against_its_own_range(client):
    """-1 had been told "between 0 and 3600 seconds (cut to JOB_WAIT_MAX_SECONDS ...)", which these routes do not
    do (they wait up to 600 s), and 700 "between 0 and 600" under the code invalid_request."""
    for path, body in (("/api/v2/models/generate", {"prompt": "hello"}), ("/library/ask", {"question": "river"}),
                       ("/api/v2/models/unload", {})):
        for wait in (-1, 700, "soon", True):
            r = client.post(path, json={**body, "wait": wait})
            assert r.status_code == 400, (path, wait, r.text)
            error = r.json()["error"]
            assert error["code"] == "invalid_wait", (path, wait, error)
            if not isinstance(wait, str | bool):
                assert error["message"] == "wait must be between 0 and 600 seconds", error
    r = client.post("/process/features/0123456789abcdef", json={"wait": -1})  # the process routes keep theirs
    assert r.status_code == 400 and "0 and 3600" in r.json()["error"]["message"]


def test_a_retry_asking_for_another_wait_gets_its_job_back(client, session_id, audio_dir):
    """The same Idempotency-Key with `"wait": 0` and then `"wait": 1` had got 422 idempotency_key_reused; the
    same with Prefer: wait already got the job back."""
    upload(client, session_id, write(audio_dir / "w.wav", sine(392.0, 1.5)))
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = client.post(f"/process/features/{session_id}", json={"file": "w.wav", "wait": 0}, headers=key)
    assert first.status_code == 202, first.text
    again = client.post(f"/process/features/{session_id}", json={"file": "w.wav", "wait": 30}, headers=key)
    assert again.status_code in (200, 202) and again.json()["job_id"] == first.json()["job_id"], again.text
    other = client.post(f"/process/features/{session_id}", json={"file": "w.wav", "picture": False, "wait": 0},
                        headers=key)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
