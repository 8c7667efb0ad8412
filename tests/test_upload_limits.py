"""The cost of an upload is bounded before the work starts (issue 11, item 4).

What the header shows (duration, sample rate, channels) is refused before any decoding (a length only where the
file bears it out: tests/test_declared_length.py); a header that does not tell the length is caught by the
streaming decode, which stops at the limit; NaN/inf samples
are refused at upload, and a job given such a file anyway fails with the same clear code.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from tests.audio_synth import flac_declaring, sine, write
from tests.conftest import USER
from tests.test_api_sessions import session_files, upload, user_session_dir


def assert_refused(client, settings, session_id, path, *, status: int, code: str):
    r = upload(client, session_id, path)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code
    assert path.name in err["message"] and str(settings["DATA_DIR"]) not in err["message"]
    assert session_files(settings, session_id) == []
    tmp = os.path.join(settings["DATA_DIR"], "tmp")
    assert not any(n.startswith("upload-") for n in os.listdir(tmp))
    return err


def test_sample_rate_over_the_limit_is_refused(app, client, settings, session_id, audio_dir):
    path = audio_dir / "ultrasonic.wav"
    sf.write(path, np.zeros((3840, 1), np.float32), 384000)
    err = assert_refused(client, settings, session_id, path, status=422, code="sample_rate_too_high")
    assert "384000" in err["message"] and str(app.config["MAX_SAMPLE_RATE"]) in err["message"]


def test_sample_rate_under_the_limit_is_refused_and_telephone_audio_is_not(app, client, settings, session_id,
                                                                         audio_dir):
    """A 6 KB file declaring 1 Hz is 3000 s of audio to every analysis (a stranger's upload held the GPU worker's
    Whisper for 9 minutes): refused from its header; 8 kHz telephone audio is accepted."""
    path = audio_dir / "one_hertz.wav"
    sf.write(path, np.random.default_rng(0).uniform(-0.5, 0.5, (3000, 1)).astype(np.float32), 1)
    err = assert_refused(client, settings, session_id, path, status=422, code="sample_rate_too_low")
    assert "1 Hz" in err["message"] and str(app.config["MIN_SAMPLE_RATE"]) in err["message"]
    phone = audio_dir / "phone.wav"
    sf.write(phone, 0.1 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)[:, None].astype(np.float32), 8000)
    assert upload(client, session_id, phone).status_code == 201


def test_channels_over_the_limit_are_refused(app, client, settings, session_id, audio_dir):
    path = audio_dir / "ten_channels.wav"
    sf.write(path, np.zeros((4410, app.config["MAX_CHANNELS"] + 2), np.float32), 44100)
    assert_refused(client, settings, session_id, path, status=422, code="too_many_channels")


def wav_declaring(path, *, channels: int, rate: int):
    """A PCM WAV whose fmt chunk says `channels` and `rate` (1000 silent bytes of data)."""
    import struct

    data = bytes(1000)
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2 & 0xFFFFFFFF, channels * 2 & 0xFFFF, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.mark.parametrize("channels, rate, code", [(65535, 44100, "too_many_channels"),
                                                  (2, 4_000_000_000, "sample_rate_too_high"),
                                                  (2, 0, "invalid_audio")])
def test_a_wav_header_libsndfile_will_not_open_is_refused_for_what_it_declares(client, settings, session_id,
                                                                              audio_dir, channels, rate, code):
    """libsndfile refuses these headers outright ("Too many channels specified", "SF_INFO struct incomplete"),
    and a stranger's got `corrupt_audio` where the limits name what is wrong."""
    path = wav_declaring(audio_dir / f"declares_{channels}_{rate}.wav", channels=channels, rate=rate)
    assert_refused(client, settings, session_id, path, status=422, code=code)


def test_a_length_the_header_does_not_tell_is_stopped_at_the_limit(client, settings, session_id, audio_dir):
    limit = settings["MAX_DURATION_SECONDS"]
    long = write(audio_dir / "over.flac", sine(100, limit + 5, sr=8000), sr=8000)
    path = flac_declaring(audio_dir / "unknown_length.flac", source=long, total_samples=0)
    assert sf.info(str(path)).frames >= 2**62  # libsndfile's "unknown": the decode must count
    err = assert_refused(client, settings, session_id, path, status=422, code="audio_too_long")
    assert "more than" in err["message"]


def test_a_request_holding_more_audio_than_its_limit_stops_decoding_and_keeps_nothing(settings, session_id,
                                                                                        audio_dir):
    """A security trial sent 0.9 MB FLACs of 10 silent minutes in 8 channels at 192 kHz: each cost the API thread
    ~4 s of decoding, and a request may carry 1,000 parts. Past MAX_REQUEST_SAMPLES (here 3 files' worth) the
    request is refused without decoding another file, and none of its files is kept."""
    from app import create_app
    from tests.conftest import Client, serving

    one = write(audio_dir / "quiet.flac", np.zeros((8000 * 10, 2), np.float32), sr=8000)  # 160,000 samples
    app = create_app({**settings, "MAX_REQUEST_SAMPLES": 3 * 160_000})
    with serving(app) as base:
        client = Client(base)
        parts = [("file", (f"q{i}.flac", one.read_bytes(), "audio/flac")) for i in range(3)]
        assert client.post(f"/sessions/{session_id}/files", files=parts).status_code == 201
        parts = [("file", (f"r{i}.flac", one.read_bytes(), "audio/flac")) for i in range(4)]
        parts.append(("file", ("not-audio.flac", b"never decoded" * 100, "audio/flac")))  # else 422 invalid_audio
        r = client.post(f"/sessions/{session_id}/files", files=parts)
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_audio_too_long", r.text
        assert "MAX_REQUEST_SAMPLES" in r.json()["error"]["message"]
    kept = [n for n in session_files(settings, session_id) if not n.startswith(".")]
    assert kept == ["q0.flac", "q1.flac", "q2.flac"]
    assert not any(n.startswith("upload-") for n in os.listdir(os.path.join(settings["DATA_DIR"], "tmp")))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused_at_upload(client, settings, session_id, audio_dir, bad):
    y = sine(440, 0.5)
    y[1234, 0] = bad
    path = audio_dir / "non_finite.wav"
    sf.write(path, y, 44100, subtype="FLOAT")
    assert_refused(client, settings, session_id, path, status=422, code="non_finite_samples")


def test_samples_far_beyond_full_scale_are_refused_at_upload_and_by_the_analysis(client, settings, session_id,
                                                                                 audio_dir):
    """A security trial's float WAV of 1e30 was accepted and then failed features with internal_error (its squares
    overflow); integer values stored as floats (32767 at full scale) still pass and are analysed."""
    from worker.errors import AudioError
    from worker.features.descriptors import compute_features

    path = audio_dir / "huge.wav"
    sf.write(path, np.full(8000, 1e30, np.float32), 8000, subtype="FLOAT")
    err = assert_refused(client, settings, session_id, path, status=422, code="samples_out_of_range")
    assert "1e+30" in err["message"]
    with pytest.raises(AudioError) as e:
        compute_features(np.full(8000, 1e18, np.float32), 8000)
    assert e.value.code == "samples_out_of_range"
    scaled = audio_dir / "int_scaled.wav"
    sf.write(scaled, (sine(440, 1.0) * 32767).astype(np.float32), 44100, subtype="FLOAT")
    assert upload(client, session_id, scaled).status_code == 201
    r = client.post(f"/process/features/{session_id}", json={"file": "int_scaled.wav"})
    job = client.wait_job(r.json()["job_id"])
    assert job["state"] == "succeeded", job


@pytest.mark.parametrize("job_type", ["features", "pitch"])
def test_a_job_given_non_finite_samples_fails_cleanly(client, settings, session_id, audio_dir, job_type):
    # A file that reached the session another way (copied in, an older version): the job fails with the
    # upload's code, never internal_error.
    assert upload(client, session_id, write(audio_dir / "fine.wav", sine(440, 1.0))).status_code == 201
    y = sine(440, 1.0)
    y[5000, 0] = np.nan
    sf.write(user_session_dir(settings, USER, session_id) / "uploads" / "fine.wav", y, 44100, subtype="FLOAT")
    job = client.wait_job(client.post(f"/process/{job_type}/{session_id}", json={"file": "fine.wav"}).json()["job_id"])
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "non_finite_samples", job["error"]
    assert os.listdir(user_session_dir(settings, USER, session_id) / "results") == []


def test_a_flac_of_unknown_length_inside_the_limits_is_accepted_and_analysed(client, session_id, audio_dir):
    # Streamed encoders leave STREAMINFO's total unset; libsndfile then reports 2**63 - 1 frames, which
    # is "unknown", not "too long" (nor, as before, "truncated").
    source = write(audio_dir / "known.flac", sine(440, 3.0, channels=2))
    path = flac_declaring(audio_dir / "streamed.flac", source=source, total_samples=0)
    r = upload(client, session_id, path)
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["duration_seconds"] == pytest.approx(3.0, abs=0.01)
    r = client.post(f"/process/features/{session_id}", json={"file": "streamed.flac"})
    job = client.wait_job(r.json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["result"]["duration_seconds"] == pytest.approx(3.0, abs=0.01)
    assert job["result"]["audio_features"]["dominant_pitch_class"] == "A"
