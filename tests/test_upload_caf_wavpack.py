"""CAF (Logic's and GarageBand's exports, Apple Loops) and WavPack (a producer's archive) are taken, over real HTTP.

Both had been refused 415 "Core Audio Format (.caf) is not read here", "WavPack (.wv) ...". Now they are read with
the guarantees of the other formats: the right length and `format` ("caf", "wv"), a cut file 422 `truncated_audio`
(PyAV decoded 60 % of a PCM CAF as a valid file 60 % as long, and refused 60 % of an ALAC CAF or a WavPack as not
audio), a name that does not say what the bytes are 415 `format_mismatch`, and the jobs decode them. Files are real
encodes: libsndfile's CAF (PCM, ALAC; its packet table before the data), FFmpeg's (through PyAV: ALAC with the
packet table after the data; IMA4), AAC in CAF as Apple Loops hold it (FFmpeg's encoder, the chunks written by
tests/audio_synth.py: FFmpeg's muxer refuses AAC) and FFmpeg's WavPack encoder.
"""

from __future__ import annotations

import re
import struct

import av
import numpy as np
import pytest
import soundfile as sf

from tests.audio_synth import aac_caf
from tests.test_api_sessions import upload
from tests.test_mp3_truncation import refused_as_truncated

SR = 44100  # Hz
SECONDS = 3.0


def tone(channels: int = 2, seconds: float = SECONDS) -> np.ndarray:
    """(channels, samples) int16: a 440 Hz tone, each channel a little quieter than the one before."""
    t = np.arange(int(seconds * SR)) / SR
    y = 0.4 * np.sin(2 * np.pi * 440 * t)
    return np.stack([(y * (1 - 0.1 * c) * 32767).astype(np.int16) for c in range(channels)])


def libsndfile_caf(path, subtype: str, seconds: float = SECONDS):
    sf.write(path, tone(seconds=seconds).T, SR, format="CAF", subtype=subtype)
    return path


def ffmpeg_encode(path, codec: str, channels: int = 2, seconds: float = SECONDS):
    """`codec` (alac, wavpack) from 16-bit samples, muxed by the container FFmpeg picks for the name."""
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=SR, layout=layout)
        stream.codec_context.format = "s16p"
        frame = av.AudioFrame.from_ndarray(tone(channels, seconds), format="s16p", layout=layout)
        frame.sample_rate = SR
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


def packet_starts(path) -> list[int]:
    """Where each packet (a CAF's, a WavPack frame) starts in the file, as FFmpeg's demuxer finds them."""
    with av.open(str(path)) as container:
        return [p.pos for p in container.demux(container.streams.audio[0]) if p.size]


def cut(path, size: int, name: str):
    out = path.with_name(name)
    out.write_bytes(path.read_bytes()[:size])
    return out


MAKERS = {"pcm.caf": lambda p: libsndfile_caf(p, "PCM_16"), "alac.caf": lambda p: libsndfile_caf(p, "ALAC_16"),
          "ffmpeg-alac.caf": lambda p: ffmpeg_encode(p, "alac"), "aac.caf": lambda p: aac_caf(p, tone() / 32768.0),
          "ima4.caf": lambda p: ffmpeg_encode(p, "adpcm_ima_qt"), "mix.wv": lambda p: ffmpeg_encode(p, "wavpack")}


@pytest.mark.parametrize("name", list(MAKERS))
def test_caf_and_wavpack_are_taken_at_their_length(client, session_id, tmp_path, name):
    path = MAKERS[name](tmp_path / name)
    r = upload(client, session_id, path)
    assert r.status_code == 201, r.text
    [info] = r.json()["files"]
    assert info["format"] == name.rsplit(".", 1)[1] and info["kind"] == "audio", info
    assert info["sample_rate"] == SR and info["channels"] == 2, info
    assert info["duration_seconds"] == pytest.approx(SECONDS, abs=0.002), info  # IMA4: whole packets of 64 frames
    download = client.get(f"/sessions/{session_id}/files/{info['name']}")
    assert download.content == path.read_bytes()
    # not Debian's "application/vnd.wv.csp+wbxml" for .wv, nor octet-stream for .caf
    assert download.headers["Content-Type"] == ("audio/x-wavpack" if name.endswith(".wv") else "audio/x-caf")


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_caf_or_wavpack_cut_at_60_percent_or_between_packets_is_truncated(client, settings, session_id, tmp_path,
                                                                            name):
    """Cut at 60 % (inside a packet or a block), and exactly where the packet (a CAF's) or the frame (WavPack's
    blocks) at 60 % of the audio starts: each had decoded as a shorter file or failed as not audio."""
    path = MAKERS[name](tmp_path / name)
    size = path.stat().st_size
    starts = packet_starts(path)
    between = starts[int(len(starts) * 0.6)]
    assert 0 < between < size
    for where, at in (("60", int(size * 0.6)), ("between", between)):
        message = refused_as_truncated(client, settings, session_id, cut(path, at, f"{where}-{name}"))
        assert "truncated" in message and str(tmp_path) not in message, message


def test_an_ffmpeg_alac_caf_cut_before_its_packet_table_is_truncated(client, settings, session_id, tmp_path):
    """FFmpeg writes an ALAC CAF's packet table after the data: cut there, all the audio bytes are present but no
    decoder can find its packets (PyAV: InvalidDataError, which had read `not_audio`)."""
    path = ffmpeg_encode(tmp_path / "loop.caf", "alac")
    data = path.read_bytes()
    at = data.rindex(b"pakt")
    message = refused_as_truncated(client, settings, session_id, cut(path, at, "no-pakt.caf"))
    assert "packet table" in message, message


def data_to_end(path, name: str):
    """A copy of a libsndfile CAF whose data chunk's size is -1, "to the end of the file", as a writer that cannot
    seek back leaves it (libsndfile pads its ALAC files with a byte after the data: dropped, as such a writer has
    none)."""
    data = bytearray(path.read_bytes())
    at = data.index(b"data")
    declared = struct.unpack(">q", data[at + 4:at + 12])[0]
    data[at + 4:at + 12] = struct.pack(">q", -1)
    out = path.with_name(name)
    out.write_bytes(bytes(data[:at + 12 + declared]))
    return out


def test_a_caf_whose_data_runs_to_the_end_is_judged_by_its_frames_and_packet_table(client, settings, session_id,
                                                                                tmp_path):
    """With no data size to compare with, a PCM CAF cut inside a frame, and an ALAC CAF whose packet table claims
    more bytes than are left, are truncated; the whole PCM one is taken (FFmpeg reads it, libsndfile does not)."""
    pcm = data_to_end(libsndfile_caf(tmp_path / "pcm.caf", "PCM_16"), "open.caf")
    r = upload(client, session_id, pcm)
    assert r.status_code == 201 and r.json()["files"][0]["duration_seconds"] == SECONDS, r.text
    message = refused_as_truncated(client, settings, session_id, cut(pcm, pcm.stat().st_size // 2 + 1, "odd.caf"))
    assert "inside a frame" in message, message
    whole = libsndfile_caf(tmp_path / "alac.caf", "ALAC_16")  # the packets lie where they lie in the copy
    alac = data_to_end(whole, "open-alac.caf")  # (which neither decoder reads whole: its packet table comes first)
    message = refused_as_truncated(client, settings, session_id, cut(alac, packet_starts(whole)[20], "short.caf"))
    assert "packet table declares" in message, message
    # whole, it is a CAF no decoder here reads (libsndfile: "malformed"; FFmpeg: invalid data): corrupt, not "not
    # audio", which says the file is of no kind read here
    r = upload(client, session_id, alac)
    assert r.status_code == 422 and r.json()["error"]["code"] == "corrupt_audio", r.text


def test_a_wavpack_cut_inside_a_multichannel_frame_is_truncated(client, settings, session_id, tmp_path):
    """A 5.1 WavPack frame is three blocks (a stereo pair each), the last one marked final: cut after its first
    block, every block in the file is whole, and the total is not told by the last block's end either."""
    path = ffmpeg_encode(tmp_path / "surround.wv", "wavpack", channels=6)
    r = upload(client, session_id, path)
    assert r.status_code == 201 and r.json()["files"][0]["channels"] == 6, r.text
    data = path.read_bytes()
    last_frame = packet_starts(path)[-1]
    second_block = data.index(b"wvpk", last_frame + 4)
    message = refused_as_truncated(client, settings, session_id, cut(path, second_block, "surround-cut.wv"))
    assert "final block" in message, message


def test_a_caf_or_wavpack_over_the_length_limit_is_refused_from_its_header(client, settings, session_id,
                                                                          tmp_path):
    """The length the header declares refuses it before any decoding ("125.0 s", not the decode's "more than")."""
    from tests.test_upload_limits import assert_refused

    seconds = settings["MAX_DURATION_SECONDS"] + 5
    for path in (libsndfile_caf(tmp_path / "long.caf", "ALAC_16", seconds),
                 ffmpeg_encode(tmp_path / "long.wv", "wavpack", seconds=seconds)):
        err = assert_refused(client, settings, session_id, path, status=422, code="audio_too_long")
        assert f"{seconds:.1f} s" in err["message"] and "more than" not in err["message"], err


def test_a_name_that_does_not_say_caf_or_wavpack_is_a_format_mismatch(client, session_id, tmp_path):
    wav = tmp_path / "wav.caf"
    sf.write(wav, tone().T, SR, format="WAV")
    caf_named_wav = libsndfile_caf(tmp_path / "caf.wav", "PCM_16")
    wavpack_named_flac = ffmpeg_encode(tmp_path / "mix.wv", "wavpack").rename(tmp_path / "wavpack.flac")
    for path, said in ((wav, "holds WAV"), (caf_named_wav, "holds CAF"), (wavpack_named_flac, "holds WavPack")):
        r = upload(client, session_id, path)
        assert r.status_code == 415 and r.json()["error"]["code"] == "format_mismatch", (path.name, r.text)
        assert said in r.json()["error"]["message"], r.text


@pytest.mark.parametrize("name", ["alac.caf", "aac.caf", "mix.wv"])
def test_a_features_job_on_a_caf_and_a_wavpack_upload_runs(client, session_id, tmp_path, name):
    """libsndfile decodes the ALAC CAF in the job, PyAV the AAC CAF and the WavPack (libsndfile reads neither)."""
    upload(client, session_id, MAKERS[name](tmp_path / name))
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": name}).json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["result"]["duration_seconds"] == pytest.approx(SECONDS, abs=0.05), job["result"]


def test_stems_of_a_wavpack_and_a_caf_are_wav(client, session_id, tmp_path):
    """Stems are written as `format` asks (WAV by default), at the input's rate and channels: neither CAF nor
    WavPack is a stem format, so a CAF or WavPack input gets WAV stems."""
    for name in ("archive.wv", "loop.caf"):
        path = ffmpeg_encode(tmp_path / name, "wavpack") if name.endswith(".wv") else libsndfile_caf(
            tmp_path / name, "ALAC_16")
        assert upload(client, session_id, path).status_code == 201
        r = client.post(f"/process/demucs/{session_id}", json={"file": name, "model": "hpss"})
        assert r.status_code == 202, r.text
        job = client.wait_job(r.json()["job_id"], timeout=120)
        assert job["state"] == "succeeded", job
        assert job["files"] and all(f.endswith(".wav") for f in job["files"]), job["files"]
        stem = tmp_path / job["files"][0]
        stem.write_bytes(client.get(f"/sessions/{session_id}/files/{job['files'][0]}").content)
        info = sf.info(str(stem))
        assert (info.samplerate, info.channels, info.frames) == (SR, 2, int(SECONDS * SR)), info


def test_every_list_of_accepted_formats_names_caf_and_wavpack(client):
    """The upload's types, the page's file picker, the CLI's batch (it picks files by suffix), the LLM answers'
    file names, the OpenAPI description and the refusal's "accepted" list each spell the formats out."""
    from client.music_analyzer_client.analyses import AUDIO_SUFFIXES
    from config import AUDIO_FILE_TYPES
    from library.question_facts import _FILE_RE
    from worker.llm.claims import AUDIO_EXTENSIONS
    from worker.refused_formats import ACCEPTED

    assert {"caf", "wv"} <= AUDIO_FILE_TYPES and {".caf", ".wv"} <= set(AUDIO_SUFFIXES)
    assert {"caf", "wv"} <= set(AUDIO_EXTENSIONS) and _FILE_RE.search("is loop.caf or take.wv in A minor?")
    assert len(_FILE_RE.findall("is loop.caf or take.wv in A minor?")) == 2
    assert "CAF (PCM, ALAC, AAC, IMA4), WavPack" in ACCEPTED
    accept = re.search(r'id="file-input"[^>]*accept="([^"]*)"', client.get("/").text)
    assert accept is not None and {".caf", ".wv"} <= set(accept.group(1).split(",")), accept
    spec = client.get("/openapi.json").text
    assert "aiff, webm, caf, wv" in spec


@pytest.mark.needs_chromium
def test_the_page_says_it_cannot_play_caf_or_wavpack(browser, server, client, session_id, tmp_path):
    """Chromium decodes neither: the timeline says so in words, as for AIFF, not "Unable to decode audio data"."""
    from tests.browser_page import logged_in

    for name, said in (("page.caf", "cannot play CAF"), ("page.wv", "cannot play WavPack")):
        assert upload(client, session_id, MAKERS["mix.wv" if name.endswith(".wv") else "alac.caf"](
            tmp_path / name)).status_code == 201
        context, page, _ = logged_in(browser)
        try:
            page.goto(f"{server}/#session={session_id}&file={name}")
            page.locator("#track-status", has_text=said).wait_for()
            assert "Unable to decode" not in page.locator("#track-status").inner_text()
        finally:
            context.close()
