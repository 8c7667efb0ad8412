"""A WAV whose RIFF and data sizes were never written (0: a streaming writer that could not seek back, a recorder
that crashed) is read to the end of the file, as players and FFmpeg read it (worker/audio_complete.py
`wav_length_unset`): a stranger's 2.96 s was refused as 422 no_audio, "the file holds no audio samples". The
upload's probe and every worker-side decoder read the same samples libsndfile reads from the patched file."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.test_api_sessions import upload
from worker.audio_blocks import channel_blocks, mono_blocks, stream_info
from worker.audio_io import load_audio, probe

SR = 44100
FRAMES = int(2.96 * SR)


def signal(channels: int) -> np.ndarray:
    t = np.arange(FRAMES) / SR
    tone = 0.4 * np.sin(2 * np.pi * 440 * t)
    noise = 0.1 * np.random.default_rng(channels).standard_normal((FRAMES, channels))
    return (tone[:, None] + noise).astype(np.float32)


def with_sizes(whole: Path, out: Path, *, riff: int, data: int) -> Path:
    """A copy of `whole` whose RIFF size (bytes 4-8) and data chunk size say `riff` and `data`."""
    raw = bytearray(whole.read_bytes())
    at = raw.index(b"data", 12)
    struct.pack_into("<I", raw, 4, riff)
    struct.pack_into("<I", raw, at + 4, data)
    out.write_bytes(bytes(raw))
    return out


def test_an_unpatched_wav_uploads_and_is_analysed_in_full(client, session_id, audio_dir):
    whole = audio_dir / "recorder-whole.wav"
    sf.write(whole, signal(2), SR, subtype="PCM_16")
    unpatched = with_sizes(whole, audio_dir / "recorder.wav", riff=0, data=0)
    assert sf.info(str(unpatched)).frames == 0  # libsndfile reads none: the failure guarded against
    r = upload(client, session_id, unpatched)
    assert r.status_code == 201, r.text
    (f,) = r.json()["files"]
    assert (f["format"], f["frames"], f["channels"], f["sample_rate"]) == ("wav", FRAMES, 2, SR)
    assert f["duration_seconds"] == pytest.approx(2.96, abs=0.001)
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": f["name"]}).json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["result"]["duration_seconds"] == pytest.approx(2.96, abs=0.001)
    assert client.get(f"/sessions/{session_id}/files/{f['name']}").content == unpatched.read_bytes()

    piped = audio_dir / "piped.wav"  # FFmpeg's own streamed header (sizes 0xFFFFFFFF) was read and still is
    with open(piped, "wb") as out:
        subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(whole), "-f", "wav", "pipe:"], stdout=out, check=True)
    r = upload(client, session_id, piped)
    assert r.status_code == 201 and r.json()["files"][0]["frames"] == FRAMES, r.text

    # a data chunk of 0 bytes that the RIFF size shows to be empty stays "no audio": the header alone, and one
    # followed by a LIST chunk the RIFF size takes in
    header_only = audio_dir / "header-only.wav"
    header_only.write_bytes(whole.read_bytes()[:44])
    with_sizes(header_only, header_only, riff=36, data=0)
    listed = audio_dir / "empty-then-list.wav"
    info = b"INFOISFT" + struct.pack("<I", 6) + b"tests\0"
    listed.write_bytes(b"RIFF" + struct.pack("<I", 36 + 8 + len(info)) + header_only.read_bytes()[8:44]
                       + b"LIST" + struct.pack("<I", len(info)) + info)
    for path in (header_only, listed):
        r = upload(client, session_id, path)
        assert r.status_code == 422 and r.json()["error"]["code"] == "no_audio", r.text


@pytest.mark.parametrize("subtype, channels, fmt", [("PCM_16", 1, "WAV"), ("PCM_24", 2, "WAV"), ("FLOAT", 2, "WAV"),
                                                    ("PCM_U8", 1, "WAV"), ("PCM_16", 6, "WAVEX")])
@pytest.mark.parametrize("riff", ["0", "0xFFFFFFFF", "header", "whole"])
def test_every_decoder_reads_an_unpatched_wav_to_its_end(tmp_path, subtype, channels, fmt, riff):
    """The probe, `load_audio`, the streaming blocks and the declared length agree with libsndfile's reading of
    the whole file, sample for sample (a RIFF size of 0, 0xFFFFFFFF, or of the header alone: none patched; or of
    the whole file: a writer that patched it and not the data size)."""
    whole = tmp_path / "whole.wav"
    sf.write(whole, signal(channels), SR, subtype=subtype, format=fmt)
    expected, _ = sf.read(whole, dtype="float32", always_2d=True)
    header = whole.read_bytes().index(b"data")  # the RIFF size that ends with the data chunk's own header
    sizes = {"header": header, "whole": whole.stat().st_size - 8}
    unpatched = with_sizes(whole, tmp_path / "unpatched.wav", riff=sizes.get(riff) or int(riff, 16), data=0)
    info = probe(unpatched)
    assert (info.format, info.frames, info.channels, info.sample_rate) == ("wav", FRAMES, channels, SR)
    y, sr = load_audio(unpatched)
    assert sr == SR and np.array_equal(y, expected.T)
    assert np.array_equal(np.concatenate(list(channel_blocks(unpatched, block_seconds=1.0)), axis=1), expected.T)
    assert np.array_equal(np.concatenate(list(mono_blocks(unpatched))), load_audio(unpatched, mono=True)[0])
    assert stream_info(unpatched).frames == FRAMES
