"""The lyrics job's `whisper_model` transcribes only a file without a transcript: the route asks for it only then,
and the transcript's advice for another language points at what writes the transcript again.

A stranger's French clip, transcribed by tiny.en, read "a multilingual model reads other languages (... or the
lyrics job's "whisper_model" ...)"; his lyrics job with `"whisper_model": "small"` was refused 409 "files without a
transcript need it" though the file had one (and would have read the tiny.en transcript again had small been there).
Real HTTP, the real GPU worker, espeak-ng speech, Whisper tiny.en, SmolLM2.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.test_api_sessions import upload
from tests.test_transcript_language import _segment
from worker.transcription.language import uncertain_words_warning

pytestmark = [pytest.mark.needs_espeak]


def test_a_transcribed_file_needs_no_whisper_model(client, session_id, audio_dir, smollm2_folder):
    for name in ("said.wav", "unsaid.wav"):
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(audio_dir / name), "The rain falls on the town."],
                       check=True)
        upload(client, session_id, audio_dir / name)
    r = client.post(f"/process/whisper/{session_id}", json={"file": "said.wav"})
    assert client.wait_job(r.json()["job_id"], timeout=180)["state"] == "succeeded"
    body = {"whisper_model": "small", "model_variant": "smollm2-135m", "max_new_tokens": 32, "temperature": 0}
    r = client.post(f"/process/lyrics/{session_id}", json={**body, "file": "said.wav"})
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=180)
    assert job["state"] == "succeeded" and job["result"]["transcript_source"] == "transcript_said.json", job
    # a file without a transcript would be transcribed with it: refused before queueing, as before
    r = client.post(f"/process/lyrics/{session_id}", json={**body, "file": "unsaid.wav"})
    assert r.status_code == 409 and "files without a transcript need it" in r.json()["error"]["message"], r.text
    r = client.post(f"/process/lyrics/{session_id}", json=body)  # the session's every file: one lacks a transcript
    assert r.status_code == 409, r.text


def test_the_uncertain_words_advice_names_what_writes_the_transcript_again():
    seg = _segment([(0.0, 0.5, 0.3, "thank"), (0.5, 1.2, 0.4, "you")])
    warning = uncertain_words_warning([seg], english_only=True, model_name="tiny.en")[0]
    assert warning.endswith('a multilingual model reads other languages (/process/whisper\'s "model", e.g. "small", '
                            'where MODELS_DIR holds it, writes the transcript again; the lyrics job\'s '
                            '"whisper_model" transcribes only a file without one)'), warning
