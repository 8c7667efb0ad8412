"""An MP3 without a length header is read to its end (worker/mp3_header.py): libsndfile guesses such a file's
length from its first frame and stops there; a stranger's 179.5 s VBR song was analysed as 91.5 s, silently."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import USER
from tests.test_api_sessions import upload, user_session_dir
from worker.audio_blocks import channel_blocks, stream_info
from worker.audio_io import load_audio, probe
from worker.mp3_header import declares_length

SR = 44100
SECONDS = 30.0


def tone_then_noise(folder: Path, *, tone_seconds: float, hz: float, noise: float, seed: int,
                    right: float = 1.0) -> Path:
    """A quiet tone (few bits per frame) for `tone_seconds`, then noise (many) to SECONDS; the right channel the
    left times `right`; as folder/source.wav."""
    t = np.arange(int(SR * tone_seconds)) / SR
    rest = noise * np.random.default_rng(seed).standard_normal(int(SR * (SECONDS - tone_seconds)))
    y = np.concatenate([0.3 * np.sin(2 * np.pi * hz * t), rest]).astype(np.float32)
    path = folder / "source.wav"
    sf.write(path, np.stack([y, right * y], axis=1), SR)
    return path


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """5 s of a quiet tone then 25 s of noise: a first-frame guess is far off."""
    return tone_then_noise(tmp_path_factory.mktemp("mp3"), tone_seconds=5, hz=220, noise=0.3, seed=0)


def encode(source: Path, name: str, *args: str) -> Path:
    out = source.with_name(name)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(source), "-c:a", "libmp3lame", *args, str(out)],
                   check=True)
    return out


def with_id3v2(path: Path, tag_bytes: int) -> Path:
    """`path` behind an ID3v2.4 tag of `tag_bytes` (padding), as taggers write them (album art makes them large)."""
    size = bytes([(tag_bytes >> shift) & 0x7F for shift in (21, 14, 7, 0)])
    out = path.with_name("tagged-" + path.name)
    out.write_bytes(b"ID3\x04\x00\x00" + size + b"\x00" * tag_bytes + path.read_bytes())
    return out


def test_a_vbr_mp3_without_a_length_header_is_read_to_its_end(source):
    vbr = encode(source, "vbr-no-xing.mp3", "-q:a", "6", "-write_xing", "0")
    assert sf.info(str(vbr)).duration < 15  # libsndfile's guess, the failure this guards against
    for path in (vbr, encode(source, "cbr-no-xing.mp3", "-b:a", "128k", "-write_xing", "0")):
        assert not declares_length(path)
        assert probe(path).duration_seconds == pytest.approx(SECONDS, abs=0.1)
        y, sr = load_audio(path)
        assert y.shape[1] / sr == pytest.approx(SECONDS, abs=0.1)
        assert sum(b.shape[1] for b in channel_blocks(path)) == y.shape[1]
        assert stream_info(path).frames is None  # FFmpeg's duration would be the same guess: not declared


def test_an_mp3_that_declares_its_length_stays_with_libsndfile(source, tmp_path):
    xing = encode(source, "vbr-xing.mp3", "-q:a", "6")
    own = source.with_name("libsndfile.mp3")
    y, _ = sf.read(source)
    sf.write(own, y, SR, format="MP3")
    for path in (xing, own, with_id3v2(xing, 200_000)):
        assert declares_length(path)
        assert stream_info(path).frames == int(SECONDS * SR)
        assert probe(path).duration_seconds == pytest.approx(SECONDS, abs=0.01)
    assert not declares_length(with_id3v2(encode(source, "v.mp3", "-q:a", "6", "-write_xing", "0"), 70_000))
    text = tmp_path / "not.mp3"
    text.write_bytes(b"no frames here" * 10)
    assert not declares_length(text)


def _set_xing_frames(path: Path, frames: int) -> Path:
    """A copy of `path` whose Xing header says `frames` (and carries no byte count), as a stranger's edit did."""
    data = bytearray(path.read_bytes())
    at = data.find(b"Xing") if b"Xing" in data else data.find(b"Info")
    flags = int.from_bytes(data[at + 4:at + 8], "big")
    assert flags & 0x1, "LAME writes a frame count"
    data[at + 4:at + 8] = (flags & ~0x2).to_bytes(4, "big")  # no byte count: only the frames can tell
    data[at + 8:at + 12] = frames.to_bytes(4, "big")
    out = path.with_name(f"frames-{frames}-{path.name}")
    out.write_bytes(bytes(data))
    return out


def test_a_length_header_the_file_size_does_not_bear_out_is_not_believed(source, tmp_path):
    """MP3s joined end to end keep the first one's header: a stranger's 418 s join was read as its first 8.5 s. A
    header edited to fewer frames let a long file past the length limit; one edited to more got a short one
    refused. Each is read to its real end instead."""
    xing = encode(source, "whole.mp3", "-q:a", "6")
    short = encode(source, "short.mp3", "-q:a", "6", "-t", "4")
    joined = tmp_path / "joined.mp3"
    joined.write_bytes(short.read_bytes() + xing.read_bytes())
    assert sf.info(str(joined)).duration < 5  # libsndfile believes the first header: the failure guarded against
    assert not declares_length(joined)
    assert probe(joined).duration_seconds == pytest.approx(4 + SECONDS, abs=0.2)
    y, sr = load_audio(joined)
    assert y.shape[1] / sr == pytest.approx(4 + SECONDS, abs=0.2)
    for frames in (10, 100_000_000):
        edited = _set_xing_frames(xing, frames)
        assert not declares_length(edited)
        assert probe(edited).duration_seconds == pytest.approx(SECONDS, abs=0.1)
    assert declares_length(_set_xing_frames(xing, int(SECONDS * SR / 1152) + 1))  # the true count stays believed


def test_the_uploaded_length_and_the_analysis_cover_the_whole_file(client, settings, session_id, source):
    vbr = encode(source, "song.mp3", "-q:a", "6", "-write_xing", "0")
    r = upload(client, session_id, vbr)
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["duration_seconds"] == pytest.approx(SECONDS, abs=0.1)
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": "song.mp3"}).json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["result"]["duration_seconds"] == pytest.approx(SECONDS, abs=0.1)
    assert (user_session_dir(settings, USER, session_id) / "results" / "features_song.json").exists()
