"""POST /process/compare: two tracks of known key and tempo, their relations computed, one grounded LLM pass."""

from __future__ import annotations

import pytest

from tests.audio_synth import write
from tests.test_api_pitch import cadence
from tests.test_api_sessions import upload


@pytest.mark.slow
def test_compare_two_tracks_grounded_in_their_analyses(client, session_id, audio_dir, smollm2_folder):
    upload(client, session_id, write(audio_dir / "c_major.wav", cadence(261.63, bpm=120.0)))
    upload(client, session_id, write(audio_dir / "g_major.wav", cadence(392.0, bpm=120.0)))
    for name in ("c_major.wav", "g_major.wav"):
        r = client.post(f"/process/pitch/{session_id}", json={"file": name}, headers={"Prefer": "wait=120"})
        assert r.status_code == 200 and r.json()["state"] == "succeeded", r.text
    r = client.post(f"/process/compare/{session_id}", json={"files": ["c_major.wav", "g_major.wav"],
                                                            "temperature": 0, "max_new_tokens": 48})
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=300)
    assert job["state"] == "succeeded", job
    res = job["result"]
    keys = {t["file"]: (t["key"], t["camelot"]) for t in res["tracks"]}
    assert keys == {"c_major.wav": ("C major", "8B"), "g_major.wav": ("G major", "9B")}
    (pair,) = res["pairs"]
    assert pair["key"].startswith("neighbours") and pair["tempo"]["relation"] == "same tempo" and pair["mixable"]
    assert res["grounded_on"] == ["pitch_c_major.json", "pitch_g_major.json"] and res["comparison"].strip()
    assert res["model"] == "smollm2-135m" and res["files"][0].startswith("compare_")
    # pitch ran, features did not: the warning names what is missing and what it would add
    assert any("/process/features (loudness, brightness)" in w and "/process/pitch" not in w
               for w in res["warnings"]), res["warnings"]


def test_compare_needs_two_to_five_uploads(client, session_id, audio_dir):
    upload(client, session_id, write(audio_dir / "one.wav", cadence(bars=1)))
    for files in (["one.wav"], ["one.wav", "one.wav"], "one.wav", [f"f{i}.wav" for i in range(6)]):
        r = client.post(f"/process/compare/{session_id}", json={"files": files})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_files", files
    assert client.post(f"/process/compare/{session_id}", json={"files": ["one.wav", "two.wav"]}).status_code == 404


def test_a_comparison_stuck_in_a_loop_says_so():
    """A stranger's SmolLM2 comparison ran "Track ¹ ... Track わ" to max_new_tokens with no warning."""
    from worker.compare.pipeline import _warnings

    tracks = [{"music": True, "has_features": True, "facts": {"file": "a.wav"}}]
    looped = _warnings(tracks, {"finish_reason": "length", "response": "Track one. " + "Track " * 80})
    assert looped[0].startswith("the comparison was cut") and "'track' is" in looped[1]
    assert _warnings(tracks, {"finish_reason": "stop", "response": "Both are in A minor; b is faster."}) == []
