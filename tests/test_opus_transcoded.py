"""An Ogg Opus made from an Ogg Vorbis by FFmpeg (`ffmpeg -i track.ogg -c:a libopus track.opus`), over real HTTP.

Such a file carries the Vorbis packets' uneven timestamps into its granule positions: a page's granule is a few
hundred samples short of what its packets hold. FFmpeg plays it to the end; libsndfile calls it "malformed"
partway through. The upload (decoded by FFmpeg once libsndfile stopped) was accepted, and every job on it then
failed `corrupt_audio`, "the audio stream is corrupt (the decoder stopped inside it)": a stranger's Wesnoth tracks
transcoded to Opus, 5 of 6 (traveling_minstrels, battle, knolls, wanderer, sad), libsndfile stopping after 0 to
125 s of them. Every Ogg Opus is decoded by FFmpeg now, in the upload check and the jobs alike.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import soundfile as sf

from tests.audio_synth import write
from tests.music_signals import SR, drum_loop
from tests.test_api_sessions import upload

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

SECONDS = 12.0


@pytest.fixture(scope="module")
def transcoded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("opus")
    vorbis = write(folder / "loop.ogg", drum_loop(seconds=SECONDS), sr=SR)
    opus = folder / "loop.opus"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(vorbis), "-c:a", "libopus", str(opus)],
                   check=True)
    with pytest.raises(sf.LibsndfileError), sf.SoundFile(str(opus)) as f:  # the file is one libsndfile stops in
        f.read()
    return opus


def test_a_transcoded_opus_is_analysed_to_its_end(client, session_id, transcoded):
    r = upload(client, session_id, transcoded)
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["duration_seconds"] == pytest.approx(SECONDS, abs=0.05), r.text
    for kind, body in (("features", {}), ("pitch", {"include": ["key", "tempo", "beats"]}),
                       ("demucs", {"model": "hpss"})):
        job = client.wait_job(client.post(f"/process/{kind}/{session_id}",
                                          json={"file": "loop.opus", **body}).json()["job_id"], timeout=120)
        assert job["state"] == "succeeded", (kind, job)
        assert job["result"]["duration_seconds"] == pytest.approx(SECONDS, abs=0.05), (kind, job["result"])


def test_the_decoders_read_every_sample_of_it(transcoded):
    from worker.audio_blocks import channel_blocks, stream_info
    from worker.audio_io import load_audio

    frames = sum(block.shape[1] for block in channel_blocks(transcoded))
    assert frames == pytest.approx(SECONDS * 48000, abs=960)
    assert stream_info(transcoded).sample_rate == 48000
    assert load_audio(transcoded)[0].shape[1] == frames
