"""An LLM analysis of a silent recording says that the recording is silent.

A stranger's 300 s of digital silence analysed by SmolLM2 read "a sense of melancholy and introspection" with no
warning: the features' "silent" note stayed inside `audio_features`. Real HTTP, the real GPU worker, SmolLM2.
"""

from __future__ import annotations

import numpy as np
from music_analyzer_client.summary import summary_lines

from tests.audio_synth import SR, sine, write
from tests.test_api_sessions import upload


def analyse(client, session_id: str, name: str) -> dict:
    return analysis_job(client, session_id, name)["result"]


def analysis_job(client, session_id: str, name: str) -> dict:
    r = client.post(f"/process/gemma_3n/{session_id}", json={
        "file": name, "task": "analyze", "model_variant": "smollm2-135m", "max_new_tokens": 8, "temperature": 0})
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=180)
    assert job["state"] == "succeeded", job
    return job


def test_a_silent_recording_is_said_to_be_silent(client, session_id, audio_dir, smollm2_folder):
    upload(client, session_id, write(audio_dir / "quiet.wav", np.zeros(3 * SR, dtype=np.float32)))
    job = analysis_job(client, session_id, "quiet.wav")
    result = job["result"]
    silent = [w for w in result["warnings"] if w.startswith("the recording is silent")]
    assert silent == ["the recording is silent (100% of its frames): there is no sound to describe, so what the "
                      "answer says of its mood, instruments or production does not come from the audio"], result
    # the CLI's summary says it once: the features' own "silent: ..." note had been a second line of the same
    warned = [text for label, text in summary_lines(job) if label == "warning" and "silent" in text]
    assert warned == silent, summary_lines(job)
    # a recording with sound has no such warning
    upload(client, session_id, write(audio_dir / "tone.wav", sine(330, 3.0)))
    assert not [w for w in analyse(client, session_id, "tone.wav")["warnings"] if "silent" in w]
