"""An upload whose stem another upload holds is stored under another name (`take.mp3` beside `take.wav` becomes
`take-1.mp3`: results are named after the stem). A stranger who then asked for `take.mp3`, as he had uploaded it,
got 404 "no file 'take.mp3' in session ..." with nothing to say where it went; the 404 names it now."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.audio_synth import sine, write
from tests.test_api_sessions import upload

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def test_a_request_for_an_upload_stored_under_another_name_is_told_that_name(client, session_id, tmp_path):
    wav = write(tmp_path / "take.wav", sine(440, 1.0))
    mp3 = tmp_path / "take.mp3"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), str(mp3)], check=True)
    assert upload(client, session_id, wav).json()["files"][0]["name"] == "take.wav"
    assert upload(client, session_id, mp3).json()["files"][0]["name"] == "take-1.mp3"
    for r in (client.post(f"/process/features/{session_id}", json={"file": "take.mp3"}),
              client.get(f"/sessions/{session_id}/files/take.mp3")):
        assert r.status_code == 404, r.text
        error = r.json()["error"]
        assert error["code"] == "file_not_found" and "uploaded as 'take-1.mp3'" in error["message"], error
        assert error["details"] == {"uploaded_as": "take-1.mp3"}, error
    r = client.post(f"/process/features/{session_id}", json={"file": "other.mp3"})  # no such upload at all
    assert r.status_code == 404 and "uploaded as" not in r.json()["error"]["message"], r.text


def test_a_file_asked_for_in_the_other_area_is_told_where_it_is(client, session_id, tmp_path):
    """`?area=results` for an upload (or `uploads` for a result) had been a bare 404, as for a name never there."""
    wav = write(tmp_path / "where.wav", sine(330, 1.0))
    upload(client, session_id, wav)
    for r in (client.get(f"/sessions/{session_id}/files/where.wav", params={"area": "results"}),
              client.delete(f"/sessions/{session_id}/files/where.wav", params={"area": "results"})):
        assert r.status_code == 404, r.text
        error = r.json()["error"]
        assert error["code"] == "file_not_found" and "it is one of its uploads" in error["message"], error
        assert error["details"] == {"area": "uploads"}, error
    assert client.get(f"/sessions/{session_id}/files/where.wav", params={"area": "uploads"}).status_code == 200
    r = client.get(f"/sessions/{session_id}/files/nowhere.wav", params={"area": "results"})
    assert r.status_code == 404 and "details" not in r.json()["error"], r.text
