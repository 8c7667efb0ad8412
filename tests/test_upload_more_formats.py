"""Formats a stranger's valid files were refused in, over real HTTP with real encodes by FFmpeg.

An Ogg FLAC (`ffmpeg -c:a flac -f ogg`) had been 422 `corrupt_audio` (libsndfile fails on every one; FFmpeg
reads it), and an MPEG layer II file named .mp2 had been 415 "named .mp2 but holds MP3 audio" though the same
bytes named .mp3 were taken. Both are analysed by a real worker; a cut Ogg FLAC is still `truncated_audio`.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.test_api_sessions import upload

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def encode(path, *args: str):
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=3", *args, str(path)],
                   check=True)
    return path


@pytest.mark.parametrize("name, args, fmt", [("oggflac.ogg", ("-ac", "2", "-c:a", "flac", "-f", "ogg"), "ogg"),
                                             ("broadcast.mp2", ("-c:a", "mp2"), "mp3")])
def test_an_ogg_flac_and_an_mp2_are_taken_and_analysed(client, session_id, tmp_path, name, args, fmt):
    r = upload(client, session_id, encode(tmp_path / name, *args))
    assert r.status_code == 201, r.text
    [info] = r.json()["files"]
    assert info["format"] == fmt and abs(info["duration_seconds"] - 3.0) < 0.1, info
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": name}).json()["job_id"])
    assert job["state"] == "succeeded", job
    assert abs(job["result"]["duration_seconds"] - 3.0) < 0.1, job["result"]


def test_a_cut_ogg_flac_is_truncated_audio(client, session_id, tmp_path):
    whole = encode(tmp_path / "whole.ogg", "-c:a", "flac", "-f", "ogg").read_bytes()
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(whole[: len(whole) // 2])
    r = upload(client, session_id, cut)
    assert r.status_code == 422 and r.json()["error"]["code"] == "truncated_audio", r.text
