"""A 5.1 recording's loudness, over real HTTP, against FFmpeg's own BS.1770 meter (the `ebur128` filter).

Six channels had all been weighed 1.0: the LFE counted as a main channel and the surrounds at 1.0, not 1.41
(a stranger's Wesnoth track panned to 5.1 measured -17.2 LUFS, ebur128 -16.4). And libsndfile reads a surround
Ogg Vorbis in Vorbis' channel order (L C R Ls Rs LFE), so the weights by position fell on the wrong channels (and
its stems were written in that order into WAV files); FFmpeg decodes it in the WAV order now.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.test_api_sessions import upload

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

# a 1 kHz tone in the front, louder in the surrounds, and a loud 60 Hz tone alone in the LFE
MIX = "[0][1]amerge=inputs=2,pan=5.1|FL=0.2*c0|FR=0.2*c0|FC=0.2*c0|LFE=0.9*c1|BL=0.5*c0|BR=0.5*c0"


def surround(path, *codec: str):
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=1000:d=4", "-f", "lavfi",
                    "-i", "sine=f=60:d=4", "-filter_complex", MIX, *codec, str(path)], check=True)
    return path


def ebur128(path) -> float:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stderr
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", out)[-1])


@pytest.mark.parametrize("name, codec", [("mix51.wav", ()), ("mix51.ogg", ("-c:a", "libvorbis")),
                                         ("mix51.flac", ())])
def test_a_5_1_mix_measures_as_ffmpeg_measures_it(client, session_id, tmp_path, name, codec):
    path = surround(tmp_path / name, *codec)
    r = upload(client, session_id, path)
    assert r.status_code == 201 and r.json()["files"][0]["channels"] == 6, r.text
    job = client.wait_job(client.post(f"/process/features/{session_id}", json={"file": name}).json()["job_id"])
    assert job["state"] == "succeeded", job
    assert job["result"]["audio_features"]["loudness_lufs"] == pytest.approx(ebur128(path), abs=0.2)


def test_a_5_1_vorbis_decodes_in_wav_order(tmp_path):
    """The LFE (the loud 60 Hz tone) is the fourth channel of the decoded Vorbis, as in the WAV."""
    import numpy as np

    from worker.audio_blocks import channel_blocks

    for path in (surround(tmp_path / "o.wav"), surround(tmp_path / "o.ogg", "-c:a", "libvorbis")):
        y = np.concatenate(list(channel_blocks(path)), axis=1)
        rms = np.sqrt((y**2).mean(axis=1))
        assert int(np.argmax(rms)) == 3, (path.name, rms)
