"""GET /library/tracks/<id>/similar?mix=1 for a track pitch ran on and found no clear key in: the 422 says so. A
stranger was told "run /process/pitch on it first" of a spoken clip pitch had run on (no clear key), and would have
run it again for the same answer. Real espeak-ng speech, real features and pitch jobs, real HTTP."""

from __future__ import annotations

import subprocess

import pytest

from tests.test_api_library import run
from tests.test_api_sessions import upload

pytestmark = [pytest.mark.needs_espeak]


def test_mix_for_a_track_with_no_clear_key_says_pitch_found_none(client, session_id, audio_dir):
    wav = audio_dir / "spoken.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "The fire burns in the winter cold, we dance together, brave "
                    "and bold"], check=True)
    upload(client, session_id, wav)
    run(client, f"/process/features/{session_id}", {"file": "spoken.wav", "picture": False})
    track = client.get("/library/tracks", params={"session_id": session_id}).json()["tracks"][0]
    r = client.get(f"/library/tracks/{track['track_id']}/similar", params={"mix": 1})
    assert r.status_code == 422 and r.json()["error"]["message"].endswith("run /process/pitch on it first"), r.text

    run(client, f"/process/pitch/{session_id}", {"file": "spoken.wav", "include": ["key", "tempo"]})
    track = client.get(f"/library/tracks/{track['track_id']}").json()
    assert track["key"] is None, track  # espeak's voice holds no key
    r = client.get(f"/library/tracks/{track['track_id']}/similar", params={"mix": 1})
    assert r.status_code == 422 and r.json()["error"]["code"] == "track_not_analysed", r.text
    message = r.json()["error"]["message"]
    assert message.startswith("mix=1 needs the track's key and tempo: /process/pitch found no clear key")
    assert "in spoken.wav" in message and "run /process/pitch" not in message, message
    assert client.get(f"/library/tracks/{track['track_id']}/similar").status_code == 200  # without mix: listed
