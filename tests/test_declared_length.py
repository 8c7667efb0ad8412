"""A header's length is a claim.

A stranger's 48 s FLAC whose STREAMINFO total had been overwritten was refused as `audio_too_long`, "715827 s", from
the header alone; a WebM's Duration element can say the same. A length past MAX_DURATION_SECONDS (120 s here) now
refuses a file only where the file holds a frame at its end (worker/declared_length.py); where not, the upload
decodes and counts, stopping past the limit, and the jobs count too.
"""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

from tests.audio_synth import flac_declaring, sine, write
from tests.test_api_sessions import session_files, upload

LIE = (1 << 36) - 1  # the largest total STREAMINFO can hold: 1,558,308 s at 44.1 kHz


def ffmpeg(path, *args: str, seconds: float, rate: int = 44100):
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"sine=f=440:d={seconds}:r={rate}",
                    *args, str(path)], check=True)
    return path


def refused(client, settings, session_id, path, *, code: str) -> str:
    r = upload(client, session_id, path)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == code, err
    assert path.name in err["message"] and settings["DATA_DIR"] not in err["message"]
    assert "Errno" not in err["message"] and "upload-" not in err["message"]
    assert path.name not in session_files(settings, session_id)
    assert not any(n.startswith("upload-") for n in os.listdir(os.path.join(settings["DATA_DIR"], "tmp")))
    return err["message"]


@pytest.mark.parametrize("encoder", ["libsndfile", "ffmpeg"])
def test_a_flac_whose_total_lies_is_taken_and_analysed_for_what_it_holds(client, session_id, audio_dir, encoder):
    source = audio_dir / f"whole-{encoder}.flac"
    if encoder == "libsndfile":
        write(source, sine(440, 8.0, channels=2))
    else:
        ffmpeg(source, "-ac", "2", "-c:a", "flac", seconds=8)
    path = flac_declaring(audio_dir / f"lying-{encoder}.flac", source=source, total_samples=LIE)
    r = upload(client, session_id, path)
    assert r.status_code == 201, r.text
    described = r.json()["files"][0]
    assert described["duration_seconds"] == pytest.approx(8.0, abs=0.01) and described["frames"] == 8 * 44100
    for job_type in ("features", "pitch"):  # the jobs read the length the frames hold, not the header's
        job = client.wait_job(client.post(f"/process/{job_type}/{session_id}", json={"file": path.name})
                              .json()["job_id"])
        assert job["state"] == "succeeded", job
        assert job["result"]["duration_seconds"] == pytest.approx(8.0, abs=0.05), job["result"]


def test_a_lying_total_on_a_file_over_the_limit_is_refused_with_the_length_measured(client, settings, session_id,
                                                                                     audio_dir):
    long = write(audio_dir / "long.flac", sine(220, settings["MAX_DURATION_SECONDS"] + 10, sr=8000), sr=8000)
    path = flac_declaring(audio_dir / "long-lying.flac", source=long, total_samples=LIE)
    message = refused(client, settings, session_id, path, code="audio_too_long")
    assert "more than 120." in message and "8589934" not in message, message  # not the header's 8,589,934 s


def test_a_true_length_over_the_limit_is_still_refused_from_the_header(client, settings, session_id, audio_dir):
    """The file holds a frame at the end its header declares: refused without decoding it, its length said."""
    path = write(audio_dir / "true-long.flac", sine(220, settings["MAX_DURATION_SECONDS"] + 10, sr=8000), sr=8000)
    message = refused(client, settings, session_id, path, code="audio_too_long")
    assert "130.0 s" in message and "more than" not in message, message


def test_a_total_that_lies_within_the_limit_is_still_a_truncated_file(client, settings, session_id, audio_dir):
    """A total short of the limit cannot be told from a file cut exactly between frames: truncated, as before."""
    source = write(audio_dir / "eight.flac", sine(440, 8.0))
    path = flac_declaring(audio_dir / "says-ten.flac", source=source, total_samples=10 * 44100)
    assert "STREAMINFO declares 441000" in refused(client, settings, session_id, path, code="truncated_audio")


def test_a_flac_whose_total_understates_it_is_taken_and_analysed_whole(client, session_id, audio_dir):
    """A 30 s FLAC whose STREAMINFO says 3 s: libsndfile stops at the total, so it had been taken, and analysed, as
    its first 3 s with nothing said (a 70-minute file declaring 10 s, inside every limit, read as 10 s). FFmpeg's
    packets go on past the declared end: the length is measured by decoding, the jobs read all of it."""
    source = write(audio_dir / "thirty.flac", sine(440, 30.0, sr=8000), sr=8000)
    path = flac_declaring(audio_dir / "says-three.flac", source=source, total_samples=3 * 8000)
    r = upload(client, session_id, path)
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["duration_seconds"] == pytest.approx(30.0, abs=0.01), r.json()
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": path.name}).json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["result"]["duration_seconds"] == pytest.approx(30.0, abs=0.05), job["result"]


def test_an_understated_total_on_a_file_over_the_limit_is_refused_with_the_length_measured(client, settings,
                                                                                         session_id, audio_dir):
    """The same over MAX_DURATION_SECONDS (130 s declaring 10 s): refused, decoding stopped past the limit."""
    long = write(audio_dir / "long.flac", sine(220, settings["MAX_DURATION_SECONDS"] + 10, sr=8000), sr=8000)
    path = flac_declaring(audio_dir / "long-says-ten.flac", source=long, total_samples=10 * 8000)
    assert "more than 120." in refused(client, settings, session_id, path, code="audio_too_long")


def test_a_webm_whose_duration_lies_is_taken_for_what_it_holds(client, session_id, audio_dir):
    data = bytearray(ffmpeg(audio_dir / "clip.webm", "-c:a", "libopus", seconds=4, rate=48000).read_bytes())
    at = data.find(b"\x44\x89")  # the Segment's Duration element (a float, in milliseconds)
    assert at > 0 and data[at + 2] in (0x84, 0x88)
    if data[at + 2] == 0x88:
        data[at + 3:at + 11] = struct.pack(">d", 1e9)
    else:
        data[at + 3:at + 7] = struct.pack(">f", 1e9)
    path = audio_dir / "clip-lying.webm"
    path.write_bytes(bytes(data))
    r = upload(client, session_id, path)
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["duration_seconds"] == pytest.approx(4.0, abs=0.05)
