"""Formats a stranger's valid files were refused in, over real HTTP with real encodes by FFmpeg.

An Ogg FLAC (`ffmpeg -c:a flac -f ogg`) had been 422 `corrupt_audio` (libsndfile fails on every one; FFmpeg
reads it), and an MPEG layer II file named .mp2 had been 415 "named .mp2 but holds MP3 audio" though the same
bytes named .mp3 were taken. Both are analysed by a real worker; a cut Ogg FLAC is still `truncated_audio`.

WebM/Opus, what a browser's MediaRecorder writes, had been 415 "unsupported container/codec matroska,webm/opus";
WebM and Matroska (.mka) audio with Opus or Vorbis is taken now. A recording piped out of FFmpeg (`-f webm -`)
stands in for MediaRecorder's: no duration in its header and "unknown" sizes, as a writer that cannot seek back
leaves them; with its clusters' sizes made "unknown" too, it is as Chromium's MediaRecorder writes one.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.audio_synth import webm_clusters_unsized
from tests.test_api_sessions import upload

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def encode(path, *args: str, seconds: float = 3):
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"sine=f=440:d={seconds}", *args,
                    str(path)], check=True)
    return path


def recorded(path, *args: str, seconds: float = 3):
    """A WebM written to a pipe, as a recorder writes one: no duration, the segment's and clusters' sizes unknown."""
    with open(path, "wb") as out:
        subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", f"sine=f=440:d={seconds}", *args,
                        "-f", "webm", "-"], stdout=out, check=True)
    return path


def browser_recorded(path, *args: str):
    """As Chromium's MediaRecorder writes a WebM: `recorded`, the clusters' sizes "unknown" as well."""
    return webm_clusters_unsized(recorded(path.with_suffix(".piped"), *args), path)


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


@pytest.mark.parametrize("name, args", [("clip.webm", ("-c:a", "libopus")), ("vorbis.webm", ("-c:a", "libvorbis")),
                                        ("clip.mka", ("-ac", "2", "-c:a", "libopus"))])
def test_webm_and_matroska_audio_is_taken_and_analysed(client, session_id, tmp_path, name, args):
    r = upload(client, session_id, encode(tmp_path / name, *args))
    assert r.status_code == 201, r.text
    [info] = r.json()["files"]
    assert info["format"] == "webm" and abs(info["duration_seconds"] - 3.0) < 0.1, info
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": name}).json()["job_id"])
    assert job["state"] == "succeeded", job
    assert abs(job["result"]["duration_seconds"] - 3.0) < 0.1, job["result"]


def test_a_browser_recording_is_taken_and_its_pitch_analysed(client, session_id, tmp_path):
    r = upload(client, session_id, browser_recorded(tmp_path / "recording.webm", "-c:a", "libopus"))
    assert r.status_code == 201, r.text
    assert abs(r.json()["files"][0]["duration_seconds"] - 3.0) < 0.1, r.text
    job = client.wait_job(client.post(f"/process/pitch/{session_id}", json={"file": "recording.webm"}).json()["job_id"],
                          timeout=120)
    assert job["state"] == "succeeded", job


def test_webm_that_is_not_audio_alone_or_not_webm_is_refused(client, session_id, tmp_path):
    """A video is refused with a way out, not analysed for its sound track; a WebM without audio and FLAC in
    Matroska (FLAC has a file type of its own) are refused as before; a name that does not say what the bytes are
    is `format_mismatch` either way round."""
    video = encode(tmp_path / "camera.webm", "-f", "lavfi", "-i", "testsrc=d=3:s=64x64", "-c:v", "libvpx",
                   "-c:a", "libopus", "-shortest")
    silent = tmp_path / "screen.webm"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=d=1:s=64x64", "-c:v",
                    "libvpx", str(silent)], check=True)
    ogg_named_webm = encode(tmp_path / "opus.webm", "-c:a", "libopus", "-f", "ogg")
    webm_named_ogg = encode(tmp_path / "opus.ogg", "-c:a", "libopus", "-f", "webm")
    for path, status, code, said in ((video, 415, "unsupported_format", "video"),
                                     (silent, 415, "not_audio", "no audio"),
                                     (encode(tmp_path / "flac.mka", "-c:a", "flac"), 415, "unsupported_format",
                                      "Matroska/WebM with FLAC audio"),
                                     (ogg_named_webm, 415, "format_mismatch", "holds OGG audio: rename it 'opus.ogg'"),
                                     (webm_named_ogg, 415, "format_mismatch",
                                      "holds WEBM audio: rename it 'opus.webm'")):
        r = upload(client, session_id, path)
        assert r.status_code == status and r.json()["error"]["code"] == code, (path.name, r.text)
        assert said in r.json()["error"]["message"], r.text


def test_an_mp4_video_is_refused_as_a_webm_one_is_and_cover_art_is_not_a_video(client, session_id, tmp_path):
    """An MP4 with a picture track had been taken as m4a (its sound analysed, its picture uploaded for nothing)
    where the same video as WebM was refused; an M4A with cover art (an attached picture) is audio."""
    video = encode(tmp_path / "camera.mp4", "-f", "lavfi", "-i", "testsrc=d=3:s=64x64", "-c:v", "mpeg4",
                   "-c:a", "aac", "-shortest")
    r = upload(client, session_id, video)
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_format", r.text
    assert "video" in r.json()["error"]["message"] and "audio.m4a" in r.json()["error"]["message"], r.text
    cover = tmp_path / "cover.png"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=d=1:s=64x64", "-frames:v",
                    "1", str(cover)], check=True)
    art = encode(tmp_path / "with-art.m4a", "-i", str(cover), "-map", "0:a", "-map", "1:v", "-c:a", "aac", "-c:v",
                 "png", "-disposition:v", "attached_pic")
    r = upload(client, session_id, art)
    assert r.status_code == 201 and r.json()["files"][0]["format"] == "m4a", r.text


def test_a_matroska_video_with_sound_not_read_here_is_called_a_video(client, session_id, tmp_path):
    """A stranger's MKV video with MP3 sound had read "Matroska/WebM with MP3FLOAT audio is not read here ...
    `ffmpeg -i in.mka out.flac`": FFmpeg's decoder name, and no word of the picture track. The same sound in an
    audio-only .mka is named MP3."""
    video = encode(tmp_path / "clip.mkv", "-f", "lavfi", "-i", "testsrc=d=3:s=64x64", "-c:v", "mpeg4",
                   "-c:a", "libmp3lame", "-shortest")
    r = upload(client, session_id, video)
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_format", r.text
    message = r.json()["error"]["message"]
    assert "video" in message and "`ffmpeg -i video.mkv -vn audio.flac`" in message, message
    r = upload(client, session_id, encode(tmp_path / "sound.mka", "-c:a", "libmp3lame"))
    assert r.status_code == 415 and "Matroska/WebM with MP3 audio is not read here" in r.json()["error"]["message"]


@pytest.mark.parametrize("make", [encode, recorded, browser_recorded])
def test_a_cut_webm_is_truncated_audio(client, session_id, tmp_path, make):
    """FFmpeg decodes a cut WebM to where its bytes stop: half of one had been a valid file half as long."""
    whole = make(tmp_path / "whole.webm", "-c:a", "libopus").read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(whole[: len(whole) // 2])
    r = upload(client, session_id, cut)
    assert r.status_code == 422 and r.json()["error"]["code"] == "truncated_audio", r.text


def test_a_webm_over_the_length_limit_is_refused_from_its_header_or_its_decode(client, settings, session_id,
                                                                             tmp_path):
    """The header's duration refuses a long file before decoding ("125.0 s"); a recording, which has none, is
    stopped by the decode once past the limit ("more than")."""
    from tests.test_upload_limits import assert_refused

    seconds = settings["MAX_DURATION_SECONDS"] + 5
    args = ("-c:a", "libopus", "-b:a", "16k")
    err = assert_refused(client, settings, session_id, encode(tmp_path / "long.webm", *args, seconds=seconds),
                         status=422, code="audio_too_long")
    assert f"{seconds:.1f} s" in err["message"] and "more than" not in err["message"], err
    err = assert_refused(client, settings, session_id, recorded(tmp_path / "long-rec.webm", *args, seconds=seconds),
                         status=422, code="audio_too_long")
    assert "more than" in err["message"], err


def test_stems_know_the_length_of_a_recording_that_declares_none(tmp_path):
    """The stems' progress is their share of the file's frames: a browser's recording declares no length, and
    the estimate had been 0 (a bar that never moved); it is read from the packets' times without decoding."""
    from worker.separation.streams import file_blocks

    path = browser_recorded(tmp_path / "rec.webm", "-c:a", "libopus")
    sr, channels, frames, blocks = file_blocks(path)
    decoded = sum(b.shape[1] for b in blocks())
    assert sr == 48000 and decoded == pytest.approx(3 * sr, rel=0.01)
    assert frames == pytest.approx(decoded, rel=0.01)


@pytest.mark.parametrize("keep", [0.5, -1])
def test_a_cut_flac_is_truncated_audio_and_a_damaged_one_corrupt(client, session_id, tmp_path, keep):
    """A FLAC cut short (a copy or download that stopped; here to half, or short of its last byte) had been 422
    `corrupt_audio`, "the decoder stopped inside it" (libsndfile loses sync in the cut frame), where a cut WAV,
    MP3, Ogg or M4A is `truncated_audio`. Bytes overwritten inside a whole file are still `corrupt_audio`."""
    whole = encode(tmp_path / "whole.flac", "-ac", "2", seconds=4).read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole[: int(len(whole) * keep)] if keep > 0 else whole[:keep])
    r = upload(client, session_id, cut)
    assert r.status_code == 422 and r.json()["error"]["code"] == "truncated_audio", r.text
    assert "truncated" in r.json()["error"]["message"], r.text
    damaged = bytearray(whole)
    middle = len(whole) // 2
    damaged[middle:middle + 64] = bytes(64)
    (tmp_path / "damaged.flac").write_bytes(bytes(damaged))
    r = upload(client, session_id, tmp_path / "damaged.flac")
    assert r.status_code == 422 and r.json()["error"]["code"] == "corrupt_audio", r.text


def test_a_raw_aac_file_is_taken_and_analysed(client, session_id, tmp_path):
    """`.aac` is one of the names an AAC upload may carry, and the CLI's batch takes `.aac` files, but a raw AAC file
    (ADTS: what `ffmpeg -c:a aac x.aac`, radio and podcast tools write) had been 415 "unsupported container/codec
    aac/aac". It is AAC audio (`m4a`), its length counted by decoding, as an MP3's is (its header has none)."""
    r = upload(client, session_id, encode(tmp_path / "radio.aac", "-ac", "2", "-c:a", "aac", "-f", "adts",
                                          seconds=4))
    assert r.status_code == 201, r.text
    [info] = r.json()["files"]
    assert info["format"] == "m4a" and abs(info["duration_seconds"] - 4.0) < 0.1, info
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": "radio.aac"}).json()["job_id"])
    assert job["state"] == "succeeded" and abs(job["result"]["duration_seconds"] - 4.0) < 0.1, job
    r = upload(client, session_id, encode(tmp_path / "adts.mp3", "-c:a", "aac", "-f", "adts"))
    assert r.status_code == 415 and r.json()["error"]["code"] == "format_mismatch", r.text


@pytest.mark.parametrize("tagged", [False, True])
def test_a_cut_raw_aac_file_is_truncated_audio(client, session_id, tmp_path, tagged):
    """FFmpeg decodes a raw AAC (ADTS) file to where its bytes stop: a stranger's first half of a 10 s `.aac` had been
    taken as 5 s. Each ADTS header states its frame's length: a last frame that runs past the end is a cut file, 422
    `truncated_audio` as a cut MP3 is (with an ID3v2 tag before the frames too); the whole file is still taken."""
    tag = ("-write_id3v2", "1", "-metadata", "title=radio") if tagged else ()
    whole_path = encode(tmp_path / "whole.aac", "-ac", "2", "-c:a", "aac", "-f", "adts", *tag, seconds=10)
    assert (whole_path.read_bytes()[:3] == b"ID3") == tagged
    r = upload(client, session_id, whole_path)
    assert r.status_code == 201 and abs(r.json()["files"][0]["duration_seconds"] - 10.0) < 0.1, r.text
    whole = whole_path.read_bytes()
    for i, share in enumerate((0.1, 0.5, 0.93)):
        cut = tmp_path / f"cut{i}.aac"
        cut.write_bytes(whole[: int(len(whole) * share) + 3])
        r = upload(client, session_id, cut)
        assert r.status_code == 422 and r.json()["error"]["code"] == "truncated_audio", (share, r.text)
