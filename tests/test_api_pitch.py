"""POST /process/pitch over real HTTP with a real worker: a rendered chord progression in a known key."""

from __future__ import annotations

import numpy as np

from tests.audio_synth import SR, write
from tests.contract import assert_shape
from tests.test_api_sessions import upload


def cadence(tonic_hz: float = 261.63, bpm: float = 120.0, bars: int = 4) -> np.ndarray:
    """I-IV-V-I in major, one chord a bar, additive tones with a click on every beat: (samples, 1)."""
    beat = 60.0 / bpm
    chords = [(0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)]
    out = []
    for bar in range(bars):
        t = np.arange(int(4 * beat * SR)) / SR
        seg = sum(np.sin(2 * np.pi * tonic_hz * 2 ** (s / 12) * h * t) / h
                  for s in chords[bar % 4] for h in (1, 2, 3)) * 0.08
        clicks = np.zeros_like(t)
        for b in range(4):
            i = int(b * beat * SR)
            clicks[i:i + 400] += np.exp(-np.arange(len(clicks[i:i + 400])) / 60) * 0.6
        out.append(seg * np.minimum(1, 20 * (t % beat)) + clicks)
    return np.concatenate(out).astype(np.float32)[:, None]


def test_pitch_job_finds_key_and_writes_files(client, session_id, audio_dir, settings):
    upload(client, session_id, write(audio_dir / "cadence.flac", cadence()))
    r = client.post(f"/process/pitch/{session_id}", json={"file": "cadence.flac"})
    assert r.status_code == 202, r.text
    job = client.wait_job(r.json()["job_id"], timeout=120)
    assert job["state"] == "succeeded", job
    assert_shape("Job", job)  # the result a PitchResult
    res = job["result"]
    assert res["key"]["tonic"] == "C" and res["key"]["mode"] == "major"
    assert set(job["files"]) >= {"pitch_cadence.json", "pitch_cadence.txt", "pitch_cadence.png"}
    assert job["queue"] == settings["CPU_QUEUE"]


def test_pitch_bad_options_are_400(client, session_id, audio_dir):
    upload(client, session_id, write(audio_dir / "c2.wav", cadence(bars=1)))
    r = client.post(f"/process/pitch/{session_id}", json={"include": ["key", "nonsense"]})
    assert r.status_code == 400 and r.json()["error"]["details"]["allowed"]
    r = client.post(f"/process/pitch/{session_id}", json={"include": "key", "bogus": 1})
    assert r.status_code == 400
