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
    prompt = "Track 1: a.wav - key A minor (8A), tempo 120 BPM"
    looped = _warnings(tracks, {"finish_reason": "length", "response": "Track one. " + "Track " * 80}, prompt=prompt)
    assert looped[0].startswith("the comparison was cut") and "'track' is" in looped[1] and len(looped) == 2
    assert _warnings(tracks, {"finish_reason": "stop", "response": "Both are in A minor; b is faster."},
                     prompt=prompt) == []


def test_a_comparison_that_invents_keys_tempi_or_tracks_says_so():
    """The measured facts are in the prompt; a key, tempo or file the answer names beyond them is a warning."""
    from worker.compare.pipeline import _warnings, compare_prompt
    from worker.compare.relations import pair_relations, track_facts

    pitch_a = {"key": {"label": "D major", "tonic": "D", "mode": "major", "confidence": 0.9}, "tempo_bpm": 96.0,
               "chords": [{"label": "D:maj", "start": 0, "end": 4}, {"label": "E:min", "start": 4, "end": 8}]}
    pitch_b = {"key": {"label": "A major", "tonic": "A", "mode": "major", "confidence": 0.8}, "tempo_bpm": 128.0}
    from worker.audio_llm.grounding import describe_music

    tracks = [{"facts": track_facts(name, p, None), "music": describe_music(p), "themes": "", "has_features": True}
              for name, p in (("intro take.wav", pitch_a), ("b.flac", pitch_b))]
    prompt = compare_prompt(tracks, [pair_relations(tracks[0]["facts"], tracks[1]["facts"])])
    honest = ("intro take.wav sits in D major at 96 BPM, with an E minor chord; b.flac is in A major, 32 BPM "
              "faster at 128 BPM. Its relative minor, F# minor, would suit a bridge.")
    assert _warnings(tracks, {"finish_reason": "stop", "response": honest}, prompt=prompt) == []
    invented = ("intro take.wav is in D minor at 140 BPM; b.flac in Gb major. Mix them with outro.mp3.")
    warnings = _warnings(tracks, {"finish_reason": "stop", "response": invented}, prompt=prompt)
    assert warnings == [
        "the answer names D minor, Gb major, which the measurements do not: check it against the measured keys",
        "the answer gives 140 BPM, which the measurements do not (nor their double, half or difference): check it "
        "against the measured tempi",
        "the answer names outro.mp3, which is none of the tracks it was given"], warnings
