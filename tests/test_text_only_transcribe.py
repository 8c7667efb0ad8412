"""A text-only model asked to transcribe a file with no Whisper transcript: refused, never invented.

A stranger's `{"task": "transcribe", "model_variant": "smollm2-135m"}` on a session without a transcript succeeded
with "The recording is a sound of a guitar..." and no warning: SmolLM2 cannot hear audio. Real HTTP, the real worker.
"""

from __future__ import annotations

import json

import pytest

from tests.audio_synth import sine, write
from tests.conftest import USER
from tests.test_api_sessions import upload


def jobs_of(client, session_id: str) -> list:
    r = client.get(f"/jobs?session_id={session_id}")
    assert r.status_code == 200, r.text
    return r.json()["jobs"]


def test_the_route_refuses_before_queueing(client, session_id, audio_dir, smollm2_folder, app):
    upload(client, session_id, write(audio_dir / "take.wav", sine(330, 1.0)))
    body = {"file": "take.wav", "task": "transcribe", "model_variant": "smollm2-135m", "max_new_tokens": 8,
            "temperature": 0}
    r = client.post(f"/process/gemma_3n/{session_id}", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "missing_transcript"
    assert "text-only" in error["message"] and "/process/whisper" in error["message"]
    assert error["details"] == {"file": "take.wav", "model_variant": "smollm2-135m"}
    assert jobs_of(client, session_id) == []  # nothing was queued
    # the whole session (no `file`) likewise; analyze needs no transcript
    assert client.post(f"/process/gemma_3n/{session_id}", json={**body, "file": None}).status_code == 422
    # with Whisper's transcript in the session it reads that, as before
    results = app.extensions["music_analyzer"].sessions.of(USER).results_dir(session_id)
    (results / "transcript_take.json").write_text(json.dumps({"text": "hello there", "segments": []}))
    r = client.post(f"/process/gemma_3n/{session_id}", json=body)
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=120)
    assert job["state"] == "succeeded" and job["result"]["transcript_source"] == "transcript_take.json", job


@pytest.mark.slow
def test_auto_choosing_a_text_only_model_fails_the_job_saying_why(client, session_id, audio_dir, smollm2_folder):
    """`auto` is chosen by the worker (it knows its device): here SmolLM2 is the only model, so the job fails with the
    reason instead of inventing a transcript."""
    upload(client, session_id, write(audio_dir / "take2.wav", sine(330, 1.0)))
    r = client.post(f"/process/gemma_3n/{session_id}", json={"file": "take2.wav", "task": "transcribe",
                                                              "model_variant": "auto", "max_new_tokens": 8})
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=120)
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "missing_transcript" and "cannot hear 'take2.wav'" in job["error"]["message"], job
    assert not [f for f in client.get(f"/sessions/{session_id}").json()["results"]
                if f["name"].startswith("analysis_")]


def test_a_transcript_without_words_is_not_called_missing(client, session_id, audio_dir, smollm2_folder):
    """A stranger ran Whisper on a silent file, then asked SmolLM2 to transcribe it, and was told "the session has
    none. Run /process/whisper on it first": the transcript was there, with no word in it."""
    import numpy as np

    upload(client, session_id, write(audio_dir / "hush.wav", np.zeros(44100 * 3, dtype=np.float32)))
    r = client.post(f"/process/whisper/{session_id}", json={"file": "hush.wav"})
    assert client.wait_job(r.json()["job_id"], timeout=180)["state"] == "succeeded"
    r = client.post(f"/process/gemma_3n/{session_id}", json={
        "file": "hush.wav", "task": "transcribe", "model_variant": "smollm2-135m", "max_new_tokens": 8})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "missing_transcript" and "Run /process/whisper" not in error["message"], error
    assert "the session's (transcript_hush.json) holds no words" in error["message"], error
    assert jobs_of(client, session_id)[0]["type"] == "whisper"  # nothing else was queued
