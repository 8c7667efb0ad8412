"""POST /process/gemma_3n over real HTTP -> gpu queue -> the worker's model manager -> files in the session."""

from __future__ import annotations

from tests.audio_synth import sine, write
from tests.contract import assert_shape
from tests.test_api_sessions import upload


def test_analyze_with_the_text_model_end_to_end(client, session_id, audio_dir, settings, smollm2_folder):
    upload(client, session_id, write(audio_dir / "hum.wav", sine(220, 3.0, channels=2)))
    r = client.post(f"/process/gemma_3n/{session_id}",
                    json={"task": "analyze", "model_variant": "smollm2-135m", "max_new_tokens": 24,
                          "temperature": 0, "file": "hum.wav"})
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=300)
    assert job["state"] == "succeeded", job
    assert_shape("Job", job)  # the result a Gemma3nResult
    assert job["queue"] == settings["GPU_QUEUE"]
    res = job["result"]
    for key in ("model", "task", "filename", "duration_seconds", "sample_rate", "audio_features",
                "analysis_summary", "output_text_file", "output_json_file"):
        assert key in res
    assert res["model"] == "smollm2-135m" and res["task"] == "analyze" and res["audio_input"] is False
    assert res["analysis_summary"].strip()
    assert res["audio_features"]["dominant_pitch_class"] == "A"
    listed = {f["name"] for f in client.get(f"/sessions/{session_id}").json()["results"]}
    assert {res["output_text_file"], res["output_json_file"]} <= listed
    assert client.get(f"/sessions/{session_id}/files/{res['output_json_file']}").json()["analysis_summary"]


def test_gemma_3n_bad_requests(client, session_id, audio_dir):
    r = client.post(f"/process/gemma_3n/{session_id}", json={"task": "analyze", "model_variant": "smollm2-135m"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_audio_files"
    upload(client, session_id, write(audio_dir / "x.wav", sine(440, 1.0)))
    r = client.post(f"/process/gemma_3n/{session_id}", json={"task": "sing"})
    assert r.status_code == 400 and "transcribe" in r.json()["error"]["message"]
    r = client.post(f"/process/gemma_3n/{session_id}", json={"model_variant": "gpt-17"})
    assert r.status_code == 400
    r = client.post(f"/process/gemma_3n/{session_id}", json={"model_variant": "smollm2-135m", "temperature": 9})
    assert r.status_code == 400
    r = client.post(f"/process/gemma_3n/{session_id}", json={"task": "transcribe"})  # default model: no weights
    assert r.status_code == 409 and "download_models.py" in r.json()["error"]["message"]
    # the server's folders are named to nobody here (a stranger read models/google/gemma-3n-E4B-it)
    assert "/" not in r.json()["error"]["message"] and "folder" not in r.json()["error"].get("details", {})
    assert client.post("/process/gemma_3n/nosuch", json={"model_variant": "smollm2-135m"}).status_code == 404
