"""A WAV (or AIFF) cut inside its header chunks is `truncated_audio`, at upload and in a job.

A stranger's WAV cut to 30 bytes, or after its fmt chunk, or inside its data chunk's header, had been
`corrupt_audio` ("the decoder stopped inside it"), where a WAV cut inside its data is `truncated_audio`.
"""

from __future__ import annotations

import struct

import pytest

from tests.audio_synth import sine, write
from tests.conftest import USER
from tests.test_api_sessions import upload, user_session_dir
from tests.test_declared_length import ffmpeg, refused


def wav_bytes(audio_dir) -> bytes:
    data = write(audio_dir / "whole.wav", sine(440, 1.0, sr=8000), sr=8000).read_bytes()
    assert data[36:40] == b"data"  # RIFF/WAVE (12), fmt chunk (24), the data chunk's header at 36
    return data


@pytest.mark.parametrize("keep", [4, 10, 12, 20, 30, 36, 40])
def test_a_wav_cut_inside_its_header_is_truncated(client, settings, session_id, audio_dir, keep):
    """Cut inside the RIFF header, the fmt chunk, right after it, or inside the data chunk's header."""
    path = audio_dir / f"header-cut-{keep}.wav"
    path.write_bytes(wav_bytes(audio_dir)[:keep])
    message = refused(client, settings, session_id, path, code="truncated_audio")
    assert "truncated" in message and "decoder" not in message, message


def test_an_aiff_and_a_flac_in_wav_cut_inside_their_headers_are_truncated(client, settings, session_id, audio_dir):
    aiff = write(audio_dir / "whole.aiff", sine(440, 1.0)).read_bytes()
    (audio_dir / "header-cut.aiff").write_bytes(aiff[:30])
    refused(client, settings, session_id, audio_dir / "header-cut.aiff", code="truncated_audio")
    flac_in_wav = ffmpeg(audio_dir / "flac-in.wav", "-c:a", "flac", seconds=1).read_bytes()
    at = flac_in_wav.find(b"data")
    (audio_dir / "flac-in-cut.wav").write_bytes(flac_in_wav[:at + 2])
    refused(client, settings, session_id, audio_dir / "flac-in-cut.wav", code="truncated_audio")


def test_a_whole_wav_without_a_data_chunk_is_not_called_truncated(client, settings, session_id, audio_dir):
    """Its RIFF size says the file is whole: not cut off, left to the decoders as before."""
    data = wav_bytes(audio_dir)[:36]
    path = audio_dir / "no-data-chunk.wav"
    path.write_bytes(data[:4] + struct.pack("<I", len(data) - 8) + data[8:])
    r = upload(client, session_id, path)
    assert r.status_code in (415, 422) and r.json()["error"]["code"] != "truncated_audio", r.text


def test_a_job_on_a_wav_cut_inside_its_header_fails_truncated(client, settings, session_id, audio_dir):
    """A file that reached the session another way: the job fails with the upload's code, not `not_audio`."""
    assert upload(client, session_id, write(audio_dir / "fine.wav", sine(440, 1.0))).status_code == 201
    cut = wav_bytes(audio_dir)[:30]
    (user_session_dir(settings, USER, session_id) / "uploads" / "fine.wav").write_bytes(cut)
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": "fine.wav"}).json()["job_id"])
    assert job["state"] == "failed" and job["error"]["code"] == "truncated_audio", job
    assert upload(client, session_id, write(audio_dir / "after.wav", sine(440, 1.0))).status_code == 201
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": "after.wav"}).json()["job_id"])
    assert job["state"] == "succeeded", job  # the worker kept serving
