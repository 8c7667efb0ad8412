"""The lyrics job over HTTP with real parts: espeak-ng words, Whisper tiny.en (the job transcribes first),
SmolLM2's analysis; the explicit flag is a word list, checkable."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from tests.audio_synth import sine, write
from tests.conftest import USER
from tests.test_api_sessions import upload

pytestmark = [pytest.mark.needs_espeak, pytest.mark.slow]
WORDS = "Walking down the river road tonight. The damn rain keeps falling on my shit town."


def test_lyrics_job_transcribes_first_then_analyses(client, session_id, audio_dir, smollm2_folder, settings):
    wav = audio_dir / "song.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav), WORDS], check=True)
    upload(client, session_id, wav)
    r = client.post(f"/process/lyrics/{session_id}", json={"file": "song.wav", "model_variant": "auto",
                                                           "temperature": 0, "max_new_tokens": 60})
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=300)
    assert job["state"] == "succeeded", job
    res = job["result"]
    assert res["model"] == "smollm2-135m" and res["model_choice"]["model"] == "smollm2-135m"
    assert res["transcript_source"] == "transcript_song.json" and res["language"] == "en" and res["lines"] >= 1
    assert "river" in json.dumps(res).lower() or res["words"] >= 8  # Whisper heard the words
    assert res["explicit"]["flagged"] and {w["word"] for w in res["explicit"]["words"]} >= {"shit"}
    assert res["analysis_text"].strip() and set(res["analysis"]) == {"themes", "mood", "narrative", "notable_lines"}
    # a section that only copies the prompt's instructions back is no answer: left empty, and the result says so
    from worker.lyrics.prompts import echoed_sections, split_sections

    echoed = echoed_sections(split_sections(res["analysis_text"]))
    assert all(res["analysis"][key] == "" for key in echoed) and not echoed_sections(res["analysis"])
    assert bool(echoed) == any("repeated the prompt" in w for w in res["warnings"]), (echoed, res["warnings"])
    names = {f["name"] for f in client.get(f"/sessions/{session_id}").json()["results"]}
    assert {"lyrics_song.json", "lyrics_song.txt", "transcript_song.json"} <= names
    # the second run reads the transcript the first one made (no second Whisper pass)
    again = client.wait_job(client.post(f"/process/lyrics/{session_id}", json={
        "file": "song.wav", "model_variant": "smollm2-135m", "temperature": 0, "max_new_tokens": 40}).json()["job_id"],
        timeout=300)
    assert again["state"] == "succeeded" and again["result"]["model_choice"] is None


def test_a_file_without_words_is_not_given_to_the_llm(client, session_id, audio_dir, smollm2_folder):
    """A stranger's silent file spent ~20 s of LLM time analysing an empty transcript."""
    upload(client, session_id, write(audio_dir / "quiet.wav", np.zeros(22050 * 3, np.float32)))
    job = client.wait_job(client.post(f"/process/lyrics/{session_id}", json={"file": "quiet.wav"}).json()["job_id"],
                          timeout=300)
    assert job["state"] == "succeeded", job
    res = job["result"]
    assert (res["lines"], res["tokens_generated"], res["generation_seconds"], res["analysis_text"]) == (0, 0, 0.0, "")
    # said as the transcript says it: silent, not "may be instrumental" beside the transcript's "the audio is silent"
    assert "the audio is silent: there are no words to analyse (no analysis was generated)" in res["warnings"]
    assert not [w for w in res["warnings"] if "instrumental" in w], res["warnings"]
    # its text agrees: no model read anything (it had said "analysed by smollm2-135m" and "(the model produced no
    # text)" of a model that was never asked, as a stranger's instrumental game tune showed)
    text = client.get(f"/sessions/{session_id}/files/lyrics_quiet.txt").text
    assert "analysed by" not in text and "the model produced no text" not in text, text
    assert "not analysed: the transcript holds no words" in text, text


def test_a_silent_vocal_stem_is_said_as_no_voice_not_as_silent_audio(client, session_id, settings, audio_dir,
                                                                    smollm2_folder):
    """The lyrics of an upload whose separation left a silent vocal stem: the file sounds, so "the audio is silent"
    (what its transcript had said) was wrong; the separation heard no voice, so the song may be instrumental."""
    from tests.test_api_sessions import user_session_dir

    upload(client, session_id, write(audio_dir / "strings.wav", sine(220, 3.0)))
    results = user_session_dir(settings, USER, session_id) / "results"
    results.mkdir(exist_ok=True)
    write(results / "vocals_strings.wav", np.zeros(22050 * 3, np.float32))
    job = client.wait_job(client.post(f"/process/lyrics/{session_id}", json={"file": "strings.wav"}).json()["job_id"],
                          timeout=300)
    assert job["state"] == "succeeded", job
    res = job["result"]
    assert res["tokens_generated"] == 0, res
    assert "the vocal stem is silent: the separation heard no voice, so the song may be instrumental (no analysis " \
           "was generated)" in res["warnings"], res["warnings"]
    assert not [w for w in res["warnings"] if "audio is silent" in w], res["warnings"]


def test_lyrics_bad_requests(client, session_id, audio_dir):
    wav = audio_dir / "quiet.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "hello"], check=True)
    upload(client, session_id, wav)
    assert client.post(f"/process/lyrics/{session_id}", json={"image": "cover.png"}).status_code == 404
    r = client.post(f"/process/lyrics/{session_id}", json={"model_variant": "gpt-5"})
    assert r.status_code == 400
    r = client.post(f"/process/lyrics/{session_id}", json={"model_variant": "gemma-3n-E4B"})
    assert r.status_code == 409  # its weights are not here
