"""The LLM jobs' cached answers are of the session's results they read, as those are now (jobs/cache.py).

A lyrics analysis reads the upload's transcript and music analysis in its session; the cache had keyed it by the
upload's bytes and the options alone, so once the transcript changed (Whisper run again with another model or
language) the same request was answered with the earlier transcript's analysis, marked cached, in 0 s; and a
request from another session of the same upload got it too, whatever that session held. Real HTTP, the session's
real workers and SmolLM2, greedy (the only way an LLM answer is cached).
"""

from __future__ import annotations

import uuid

import pytest

from tests.audio_synth import sine, write
from tests.test_api_sessions import upload
from tests.test_time_limit_partial import smollm2_resident, transcribed

__all__ = ["smollm2_resident"]  # a fixture, used by name
RIVER = [(0.0, "Walking down the river road tonight"), (3.0, "The rain keeps falling on my town")]
HARBOUR = [(0.0, "Ships are leaving the harbour at dawn"), (3.0, "Sailors singing of the open sea"),
           (6.0, "Home again")]  # three lines, 15 words: the result's counts tell the two apart


def lyrics(client, session_id: str, name: str) -> dict:
    r = client.post(f"/process/lyrics/{session_id}", json={"file": name, "model_variant": "smollm2-135m",
                                                            "temperature": 0, "max_new_tokens": 32})
    assert r.status_code in (200, 202), r.text
    job = client.wait_job(r.json()["job_id"], timeout=300)
    assert job["state"] == "succeeded", job
    return job["result"]


def read(result: dict) -> tuple[int, int]:
    """(lines, words) of the transcript the analysis read, as its result counts them."""
    return result["lines"], result["words"]


@pytest.mark.usefixtures("smollm2_resident")
def test_a_lyrics_analysis_is_not_served_from_cache_for_another_transcript(client, settings, session_id, audio_dir):
    name = f"song-{uuid.uuid4().hex[:6]}.wav"
    stem = name[:-4]
    upload(client, session_id, write(audio_dir / name, sine(247, 2.0)))
    transcribed(settings, session_id, stem, RIVER)
    first = lyrics(client, session_id, name)
    assert not first.get("cached") and read(first) == (2, 13), first
    again = lyrics(client, session_id, name)  # nothing changed: the cache answers, as it always did
    assert again.get("cached") is True and again["analysis_text"] == first["analysis_text"], again

    transcribed(settings, session_id, stem, HARBOUR)  # Whisper again, other words
    changed = lyrics(client, session_id, name)
    assert not changed.get("cached"), changed  # had been the river's analysis, cached
    assert read(changed) == (3, 15), changed
    assert lyrics(client, session_id, name).get("cached") is True  # the new words' answer is cached in turn


@pytest.mark.usefixtures("smollm2_resident")
def test_a_lyrics_analysis_is_not_served_to_a_session_whose_transcript_differs(client, settings, audio_dir):
    name = f"song-{uuid.uuid4().hex[:6]}.wav"
    audio = write(audio_dir / name, sine(262, 2.0))
    sessions = []
    for words in (RIVER, HARBOUR):
        r = client.post("/sessions", json={})
        assert r.status_code == 201, r.text
        sessions.append(r.json()["session_id"])
        upload(client, sessions[-1], audio)
        transcribed(settings, sessions[-1], name[:-4], words)
    first = lyrics(client, sessions[0], name)
    assert not first.get("cached"), first
    other = lyrics(client, sessions[1], name)  # the same bytes, the same options, another transcript
    assert not other.get("cached") and read(other) == (3, 15), other
