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


IMA4_PACKET_FRAMES, IMA4_MONO_PACKET_BYTES = 64, 34  # adpcm_ima_qt: a 2-byte header (predictor, step index), 32 bytes


def ima4_caf(path, seconds: float, sr: int = SR):
    """A real CAF IMA4 file (FFmpeg's encoder and muxer, as Apple Loops hold it): a mono 440 Hz tone, encoded in
    10 s frames (memory flat), its header declaring its length (the data chunk's size, whole 64-frame packets)."""
    import av
    import numpy as np

    t = np.arange(int(seconds * sr)) / sr
    y = (0.4 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)[None, :]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("adpcm_ima_qt", rate=sr, layout="mono")
        stream.codec_context.format = "s16p"
        for start in range(0, y.shape[1], 10 * sr):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y[:, start:start + 10 * sr]), format="s16p",
                                               layout="mono")
            frame.sample_rate = sr
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def undecodable_start(path, name: str, packets: int = 40):
    """`path` with its first `packets` IMA4 packets' step index out of range (127 > 88): FFmpeg's decoder refuses
    each, and past 16 of them (worker/av_frames.py) the decode fails the file. Its chunks and length are untouched:
    what refuses it tells whether the file was decoded (corrupt_audio) or judged from its header alone."""
    data = bytearray(path.read_bytes())
    start = data.index(b"data") + 12 + 4  # the data chunk's header, then its edit count
    for i in range(packets):
        data[start + i * IMA4_MONO_PACKET_BYTES:start + i * IMA4_MONO_PACKET_BYTES + 2] = b"\xff\xff"
    out = path.with_name(name)
    out.write_bytes(bytes(data))
    return out


def test_one_caf_ima4_file_over_the_bound_is_refused_from_its_header_before_any_decode(settings, session_id,
                                                                                       audio_dir):
    """The weighted bound had stopped only the NEXT file: one CAF IMA4 upload (~15x FLAC's decode cost per sample)
    of an hour at 48 kHz stereo held an API thread ~46 s, decoded to its end, then refused. Its header's length, times
    its weight, now refuses it before a block is decoded: a copy whose first packets no decoder takes is refused 413
    from its header, where decoding it had been 422 corrupt_audio."""
    from app import create_app
    from tests.conftest import Client, serving

    caf = ima4_caf(audio_dir / "loop.caf", SECONDS * 6)  # 60 s of 8 kHz mono: 480,000 samples, 7.1 M counted
    raw = SECONDS * 6 * SR
    bad = undecodable_start(caf, "loop-bad.caf")
    app = create_app({**settings, "MAX_REQUEST_SAMPLES": 2_000_000})  # the raw samples fit, the weighted ones do not
    with serving(app) as base:
        client = Client(base)
        for path in (bad, caf):
            r = client.post(f"/sessions/{session_id}/files", files=[("file", (path.name, path.read_bytes(),
                                                                             "audio/x-caf"))])
            assert r.status_code == 413, r.text
            err = r.json()["error"]
            assert err["code"] == "request_audio_too_long", err
            assert err["message"].startswith(f"{path.name!r}: its header declares") and "before decoding" in err[
                "message"], err
            assert err["details"]["declared_samples"] == raw and err["details"]["max_samples"] == 2_000_000, err
            assert err["details"]["counted_samples"] > 14 * raw, err  # CAF's weight, 14.9
            assert str(settings["DATA_DIR"]) not in r.text and "Traceback" not in r.text
    # under a bound its weighted samples fit, the same file is decoded and taken, and the one no decoder reads is
    # refused as it was: its header passed, its decode did not
    with serving(create_app({**settings, "MAX_REQUEST_SAMPLES": 16 * raw})) as base:
        client = Client(base)
        r = client.post(f"/sessions/{session_id}/files", files=[("file", (caf.name, caf.read_bytes(), "audio/x-caf"))])
        assert r.status_code == 201 and r.json()["files"][0]["frames"] == raw, r.text
        r = client.post(f"/sessions/{session_id}/files", files=[("file", (bad.name, bad.read_bytes(), "audio/x-caf"))])
        assert r.status_code == 422 and r.json()["error"]["code"] == "corrupt_audio", r.text
    assert [n for n in session_files(settings, session_id) if not n.startswith(".")] == ["loop.caf"]
    assert not any(n.startswith("upload-") for n in os.listdir(os.path.join(settings["DATA_DIR"], "tmp")))


def test_the_declared_length_counts_after_the_files_before_it(settings, session_id, audio_dir):
    """The check before a file's decode counts what the request's files before it held: two CAF files that each fit
    alone are refused at the second, from its header, the message saying the files before it counted."""
    from app import create_app
    from tests.conftest import Client, serving

    caf = ima4_caf(audio_dir / "half.caf", SECONDS)  # 80,000 samples, ~1.19 M counted
    app = create_app({**settings, "MAX_REQUEST_SAMPLES": 2_000_000})
    with serving(app) as base:
        parts = [("file", (f"c{i}.caf", caf.read_bytes(), "audio/x-caf")) for i in range(2)]
        r = Client(base).post(f"/sessions/{session_id}/files", files=parts)
        assert r.status_code == 413, r.text
        message = r.json()["error"]["message"]
        assert message.startswith("'c1.caf': its header declares") and "files before it" in message, message
