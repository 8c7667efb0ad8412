"""WAV files of codecs libsndfile does not decode, over real HTTP: FFmpeg reads them, so they are taken.

A stranger's WAV holding FLAC-coded sound (format tag 0xF1AC, what `ffmpeg -c:a flac out.wav` writes) had been
refused 422 `corrupt_audio` though every job decodes it; so was G.726 (a telephone recorder's). Now such a WAV is
taken at its length, a cut one is `truncated_audio` (FFmpeg read it to where its bytes stopped), and a WAV whose
codec no decoder here knows is a 415 that says so (PyAV's stream had no codec: an AttributeError, not a reply).
Files are real encodes by FFmpeg's encoders and WAV muxer.
"""

from __future__ import annotations

import struct
import subprocess

import pytest

from tests.test_api_sessions import upload
from tests.test_mp3_truncation import refused_as_truncated

SECONDS = 3.0


def ffmpeg_wav(path, codec: str, *, rate: int = 44100, channels: int = 2):
    """A WAV of `codec` audio (a 440 Hz tone, SECONDS long) written by FFmpeg's encoder and WAV muxer."""
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"sine=f=440:d={SECONDS}:r={rate}",
                    "-ac", str(channels), "-c:a", codec, "-f", "wav", str(path)], check=True)
    return path


MAKERS = {"flac-in.wav": lambda p: ffmpeg_wav(p, "flac"),
          "g726.wav": lambda p: ffmpeg_wav(p, "g726", rate=8000, channels=1)}


def format_tag(path) -> int:
    data = path.read_bytes()
    at = data.find(b"fmt ") + 8
    return struct.unpack("<H", data[at:at + 2])[0]


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_wav_of_a_codec_ffmpeg_reads_is_taken_at_its_length(client, session_id, tmp_path, name):
    path = MAKERS[name](tmp_path / name)
    assert format_tag(path) in (0xF1AC, 0x0045)  # the codecs libsndfile has no decoder for
    r = upload(client, session_id, path)
    assert r.status_code == 201, r.text
    [info] = r.json()["files"]
    assert info["format"] == "wav" and info["kind"] == "audio", info
    assert info["duration_seconds"] == pytest.approx(SECONDS, abs=0.01), info


def test_a_features_job_on_a_flac_in_wav_upload_runs(client, session_id, tmp_path):
    upload(client, session_id, MAKERS["flac-in.wav"](tmp_path / "flac-in.wav"))
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": "flac-in.wav"}).json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["result"]["duration_seconds"] == pytest.approx(SECONDS, abs=0.05), job["result"]


def test_a_cut_flac_in_wav_is_truncated(client, settings, session_id, tmp_path):
    path = MAKERS["flac-in.wav"](tmp_path / "flac-in.wav")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.6)])
    message = refused_as_truncated(client, settings, session_id, cut)
    assert "truncated" in message and str(tmp_path) not in message, message


def test_a_wav_whose_codec_no_decoder_knows_is_refused_with_its_tag(client, session_id, tmp_path):
    path = ffmpeg_wav(tmp_path / "pcm.wav", "pcm_s16le")
    data = bytearray(path.read_bytes())
    at = data.find(b"fmt ") + 8
    data[at:at + 2] = struct.pack("<H", 0x1234)
    odd = tmp_path / "odd.wav"
    odd.write_bytes(bytes(data))
    r = upload(client, session_id, odd)
    assert r.status_code == 415, r.text
    error = r.json()["error"]
    assert error["code"] == "unsupported_format" and "0x1234" in error["message"], error
    assert str(tmp_path) not in error["message"]
