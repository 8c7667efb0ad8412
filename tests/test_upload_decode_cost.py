"""MAX_REQUEST_SAMPLES counts a request's samples weighted by what decoding them costs (api/decode_cost.py).

A reliability trial held an API thread ~34 s with ~21 MB of 8 kHz ADTS AAC, 2 x 10^9 samples under the raw-sample
bound set with FLAC's cost in mind; an AAC sample costs ~2.4 FLAC samples to decode at upload.
"""

from __future__ import annotations

import os
import subprocess

from tests.audio_synth import sine, write
from tests.test_api_sessions import session_files

SECONDS, SR = 10, 8000
ONE_FILE = SECONDS * SR * 2  # 160,000 samples: 10 s of 8 kHz stereo


def test_dear_codec_samples_count_for_more_than_the_same_flac_samples(settings, session_id, audio_dir):
    from app import create_app
    from tests.conftest import Client, serving

    y = sine(440, SECONDS, sr=SR, amp=0.3, channels=2)
    flac = write(audio_dir / "tone.flac", y, sr=SR)
    wav = write(audio_dir / "tone.wav", y, sr=SR)
    aac = audio_dir / "tone.aac"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac", "-f", "adts", str(aac)],
                   check=True)
    # three files' raw samples fit with room to spare (AAC's decoder adds up to a frame of priming per file)
    app = create_app({**settings, "MAX_REQUEST_SAMPLES": 3 * ONE_FILE + 20_000})
    with serving(app) as base:
        client = Client(base)
        parts = [("file", (f"q{i}.flac", flac.read_bytes(), "audio/flac")) for i in range(3)]
        r = client.post(f"/sessions/{session_id}/files", files=parts)
        assert r.status_code == 201, r.text
        assert sum(f["frames"] * f["channels"] for f in r.json()["files"]) == 3 * ONE_FILE
        # the same samples of AAC: the second file takes the weighted sum past the bound, and the parts after it
        # are never decoded (the last one, not audio, would have been refused 415)
        parts = [("file", (f"a{i}.aac", aac.read_bytes(), "audio/aac")) for i in range(3)]
        parts.append(("file", ("not-audio.aac", b"never decoded" * 100, "audio/aac")))
        r = client.post(f"/sessions/{session_id}/files", files=parts)
        assert r.status_code == 413, r.text
        err = r.json()["error"]
        assert err["code"] == "request_audio_too_long"
        assert "MAX_REQUEST_SAMPLES" in err["message"] and "FLAC" in err["message"]
        assert str(settings["DATA_DIR"]) not in err["message"] and "Traceback" not in r.text
    kept = [n for n in session_files(settings, session_id) if not n.startswith(".")]
    assert kept == ["q0.flac", "q1.flac", "q2.flac"]
    assert not any(n.startswith("upload-") for n in os.listdir(os.path.join(settings["DATA_DIR"], "tmp")))
