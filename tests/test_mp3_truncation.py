"""A cut MP3 is refused as truncated, as a cut WAV, AIFF, FLAC, Ogg or M4A is (worker/mp3_header.py
`check_complete`): both decoders stop quietly where the bytes do, and a stranger's first half of a 30 s MP3 was
accepted as a 15 s file without a word, its first 1000 bytes as 0.027 s. Whole MP3s of every kind still upload at
their length. Real encodes (FFmpeg's libmp3lame, libsndfile's LAME), real uploads over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import USER
from tests.test_api_sessions import upload, user_session_dir
from tests.test_mp3_length import encode, tone_then_noise, with_id3v2
from worker.mp3_header import declares_length

SR = 44100
SECONDS = 30.0  # long enough that a third of it is well past the 64 KB a length header may be off by


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A tone, then noise (VBR frames of many sizes), stereo."""
    return tone_then_noise(tmp_path_factory.mktemp("mp3cut"), tone_seconds=10, hz=330, noise=0.2, seed=3, right=0.8)


def frames(path: Path) -> list[tuple[int, int]]:
    """(offset, bytes) of each audio frame, as FFmpeg's demuxer finds them (ffprobe's packets)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pos,size",
                          "-of", "json", str(path)], check=True, capture_output=True, text=True).stdout
    return [(int(p["pos"]), int(p["size"])) for p in json.loads(out)["packets"]]


def cut(path: Path, size: int, name: str) -> Path:
    out = path.with_name(name)
    out.write_bytes(path.read_bytes()[:size])
    return out


def refused_as_truncated(client, settings, session_id, path: Path) -> str:
    folder = user_session_dir(settings, USER, session_id) / "uploads"
    before = sorted(os.listdir(folder)) if folder.is_dir() else []
    r = upload(client, session_id, path)
    assert r.status_code == 422 and r.json()["error"]["code"] == "truncated_audio", (path.name, r.text)
    assert (sorted(os.listdir(folder)) if folder.is_dir() else []) == before  # nothing of it stays
    return r.json()["error"]["message"]


def test_the_strangers_half_mp3_and_its_first_1000_bytes_are_refused(client, settings, session_id, source):
    """FFmpeg's default encode (CBR with a LAME Info header, ID3v2 tag): cut to half it had uploaded as 201 with
    duration_seconds 14.995, cut to 1000 bytes as 0.027 s."""
    full = encode(source, "stranger.mp3", "-t", str(SECONDS))
    assert declares_length(full)
    size = full.stat().st_size
    message = refused_as_truncated(client, settings, session_id, cut(full, size // 2, "half.mp3"))
    assert "Info header declares" in message, message
    refused_as_truncated(client, settings, session_id, cut(full, 1000, "first-1000.mp3"))
    r = upload(client, session_id, full)
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["duration_seconds"] == pytest.approx(SECONDS, abs=0.05)


def _id3v1(path: Path) -> Path:
    out = path.with_name("v1-" + path.name)
    tag = b"TAG" + b"A Song".ljust(30, b"\0") + b"Someone".ljust(30, b"\0") + b"\0" * 64 + b"\xff"
    out.write_bytes(path.read_bytes() + tag)
    return out


def _ape_tag(path: Path) -> Path:
    """An APEv2 tag holding 20 KB of binary (cover art) after the last frame, then an ID3v1 tag."""
    body = b"\x00" * 8 + b"Cover Art (front)\x00" + np.random.default_rng(9).bytes(20_000)
    footer = b"APETAGEX" + (2000).to_bytes(4, "little") + (len(body) + 32).to_bytes(4, "little") + b"\0" * 16
    out = path.with_name("ape-" + path.name)
    out.write_bytes(path.read_bytes() + body + footer + _id3v1(path).read_bytes()[-128:])
    return out


def _variant(source: Path, kind: str) -> Path:
    if kind == "cbr-info":
        return encode(source, f"{kind}.mp3", "-b:a", "128k")
    if kind == "cbr-no-header":
        return encode(source, f"{kind}.mp3", "-b:a", "128k", "-write_xing", "0")
    if kind == "vbr-xing":
        return encode(source, f"{kind}.mp3", "-q:a", "4")
    if kind == "vbr-no-header":
        return encode(source, f"{kind}.mp3", "-q:a", "4", "-write_xing", "0")
    if kind == "mpeg2-mono-22khz":
        return encode(source, f"{kind}.mp3", "-ac", "1", "-ar", "22050", "-b:a", "32k")
    if kind == "libsndfile-lame":
        y, _ = sf.read(source)
        sf.write(source.with_name(f"{kind}.mp3"), y, SR, format="MP3")
        return source.with_name(f"{kind}.mp3")
    if kind == "id3v2-100k-and-id3v1":
        return _id3v1(with_id3v2(encode(source, f"{kind}.mp3", "-q:a", "4", "-write_xing", "0"), 100_000))
    if kind == "ape-tag-no-header":
        return _ape_tag(encode(source, f"{kind}.mp3", "-b:a", "96k", "-write_xing", "0", "-id3v2_version", "0"))
    assert kind == "joined"  # `cat a.mp3 b.mp3`: the second's ID3v2 tag and Info frame sit mid-stream
    joined = source.with_name("joined.mp3")
    joined.write_bytes(encode(source, "first.mp3", "-t", "3").read_bytes() + _variant(source, "vbr-xing").read_bytes())
    return joined


@pytest.mark.parametrize("kind", ["cbr-info", "cbr-no-header", "vbr-xing", "vbr-no-header", "mpeg2-mono-22khz",
                                  "libsndfile-lame", "id3v2-100k-and-id3v1", "ape-tag-no-header", "joined"])
def test_a_whole_mp3_uploads_at_its_length_and_a_cut_one_is_refused(client, settings, session_id, source, kind):
    """CBR and VBR, with a Xing/Info header and without, tags at either end: the whole file is accepted at its
    known length. Cut inside a frame a third of the way in (every kind: no length header is needed to see a last
    frame run past the end), it is refused; cut between two frames, it is where a length header tells."""
    whole = _variant(source, kind)
    seconds = SECONDS + 3 if kind == "joined" else SECONDS
    r = upload(client, session_id, whole)
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["duration_seconds"] == pytest.approx(seconds, abs=0.1)
    at, length = frames(whole)[len(frames(whole)) // 3]
    refused_as_truncated(client, settings, session_id, cut(whole, at + length // 2, f"mid-frame-{kind}.mp3"))
    if declares_length(whole):  # (a join's is not believed: it counts only the first part)
        refused_as_truncated(client, settings, session_id, cut(whole, at, f"between-frames-{kind}.mp3"))
