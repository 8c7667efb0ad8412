"""Option errors name their option and their route's own bounds, over real HTTP, before anything is queued.

A stranger found Whisper's 400 "tiny.en only transcribes English" without `details.option` (every other option error
has it), and the smallest `max_new_tokens` differs by route (1 gemma_3n, 8 /library/ask, 32 lyrics and compare):
each route's 400 says its own."""

from __future__ import annotations

from tests.audio_synth import sine, write
from tests.test_api_sessions import upload


def test_an_english_only_whisper_asked_for_another_language_names_the_option(client, session_id, audio_dir):
    upload(client, session_id, write(audio_dir / "voice.wav", sine(220, 0.5)))
    for asked, option in (({"language": "fr"}, "language"), ({"task": "translate"}, "task")):
        r = client.post(f"/process/whisper/{session_id}", json={"file": "voice.wav", "model": "tiny.en", **asked})
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_option" and "only transcribes English" in error["message"], error
        assert error["details"]["option"] == option, error


def test_each_route_says_its_own_smallest_max_new_tokens(client, session_id, audio_dir):
    upload(client, session_id, write(audio_dir / "tune.wav", sine(330, 0.5)))
    upload(client, session_id, write(audio_dir / "tune2.wav", sine(440, 0.5)))
    for route, body, least in ((f"/process/gemma_3n/{session_id}", {"file": "tune.wav"}, 1),
                               ("/library/ask", {"question": "which song is the slowest?"}, 8),
                               (f"/process/lyrics/{session_id}", {"file": "tune.wav"}, 32),
                               (f"/process/compare/{session_id}", {"files": ["tune.wav", "tune2.wav"]}, 32)):
        r = client.post(route, json={**body, "max_new_tokens": least - 1})
        assert r.status_code == 400, (route, r.text)
        error = r.json()["error"]
        assert error["details"]["option"] == "max_new_tokens" and error["details"]["min"] == least, (route, error)
        assert f"[{least}, " in error["message"], (route, error)
