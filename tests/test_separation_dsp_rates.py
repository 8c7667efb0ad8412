"""The weight-free stems at high sample rates: the STFT is sized in seconds, so a file at twice the rate is
separated into the same stems (worker/separation/dsp.py), and a 96 kHz file keeps its rate and length.

A stranger's 96 kHz second of audio took 15 s against 3.5 s at 44.1 kHz: the fixed 2048-point STFT gave twice
the frames, and REPET's similarity matrix four times the cells; every short file was also padded to a 30 s
window, and progress stayed at 0 until that window ended."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf
import soxr

from worker.separation.options import SeparationOptions
from worker.separation.pipeline import Separator, run_separation

pytestmark = pytest.mark.needs_espeak

WORDS = ("The stems of a recording keep the rate it was made at, whether that is forty four or ninety six "
         "thousand samples a second, and the voice stays apart from the repeating organ underneath it.")


@pytest.fixture(scope="module")
def mix(tmp_path_factory) -> tuple[np.ndarray, int]:
    """espeak-ng's speech (written and decoded by real libraries) over a repeating two-note organ, 10 s."""
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), WORDS], check=True)
    voice, sr = sf.read(path, dtype="float32")
    n = 10 * sr
    voice = np.tile(voice, -(-n // voice.size))[:n]
    t = np.arange(n) / sr
    organ = 0.1 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0) + 0.05 * np.sin(2 * np.pi * 330 * t)
    return (voice + organ).astype(np.float32), sr


@pytest.mark.parametrize("method", ["hpss", "repet"])
def test_a_file_at_twice_the_rate_gets_the_same_stems(method, mix):
    """At 88.2 kHz the STFT has twice the points and hop (the same 46 ms and 11.6 ms): the masks are those of the
    44.1 kHz file, and its stems, brought back to 44.1 kHz, equal those of the 44.1 kHz file. With 2048/512
    samples at every rate they differed by 23 % (repet) to 56 % (hpss) of the stems' level."""
    y, sr = mix
    x44 = soxr.resample(y, sr, 44100).astype(np.float32)
    x88 = soxr.resample(y, sr, 88200).astype(np.float32)
    s44 = Separator(method).separate_array(x44[None], 44100)
    s88 = Separator(method).separate_array(x88[None], 88200)
    for stem, ref in s44.items():
        assert s88[stem].shape == (1, x88.size)
        back = soxr.resample(s88[stem][0], 88200, 44100)[: x44.size]
        err = np.sqrt(np.mean((back - ref[0, : back.size]) ** 2) / np.mean(ref[0] ** 2))
        assert err < 0.01, (stem, err)


def test_96k_stems_keep_rate_and_length_and_progress_moves_inside_the_window(mix, tmp_path):
    y, sr = mix
    x = soxr.resample(y[: 4 * sr], sr, 96000).astype(np.float32)
    x = x[: 4 * 96000 - 37]  # a length no hop divides
    audio = tmp_path / "hi-res.flac"
    sf.write(audio, np.stack([x, 0.7 * x], axis=1), 96000, subtype="PCM_24")
    seen: list[tuple[float, str]] = []
    result = run_separation(audio_path=audio, results_dir=tmp_path / "out", options=SeparationOptions(model="repet"),
                            progress=lambda fraction, stage: seen.append((fraction, stage)))
    assert result["sample_rate"] == 96000 and result["channels"] == 2
    for name in result["files"]:
        info = sf.info(tmp_path / "out" / name)
        assert (info.samplerate, info.channels, info.frames) == (96000, 2, x.size)
    # one window (4 s < 30 s): its steps are reported as they end, where progress had gone from 0 to 1 at once
    inside = sorted({f for f, stage in seen if stage == "separating" and 0 < f < 1})
    assert len(inside) >= 3, seen
    assert seen[-1] == (1.0, "done")


def test_repet_recurrence_is_librosas_matrix(mix):
    """The similarity graph built straight from sklearn's neighbours is librosa's, entry for entry."""
    import librosa

    from worker.separation.dsp import _stft, recurrence

    y, sr = mix
    mag = np.abs(_stft(y[None, None], sr)).mean(axis=1)[0]
    width = int(librosa.time_to_frames(2.0, sr=sr, hop_length=512))
    ref = librosa.segment.recurrence_matrix(mag, width=width, metric="cosine", sparse=True)
    ours = recurrence(mag, width)
    assert ours.shape == ref.shape and (ours != ref).nnz == 0 and ref.nnz > 0


def test_repet_at_the_first_length_with_room_for_repetitions(mix):
    """2 * width + 2 frames (width: 2 s): librosa's bound is width < (frames - 1) // 2; a window of this length had
    raised once windows were no longer padded to 30 s."""
    y, sr = mix
    x = soxr.resample(y, sr, 44100).astype(np.float32)[: 345 * 512]  # 346 frames, width 172 at 44.1 kHz
    stems = Separator("repet").separate_array(x[None], 44100)
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], x[None], atol=1e-4)


@pytest.mark.parametrize(("rate", "mp3_rate"), [(4000, 8000), (96000, 44100), (44100, 44100)])
def test_mp3_stems_of_any_accepted_rate_are_written_and_say_their_rate(mix, tmp_path, rate, mp3_rate):
    """A stranger's 4 kHz FLAC (the lowest rate an upload may have) asked for MP3 stems failed `internal_error`:
    LAME resamples it up to 8 kHz, MP3's lowest, and lameenc's output buffer, sized for the input, overflowed
    ("LAME encoding failed"). His 96 kHz WAV got 44.1 kHz MP3 stems whose result said `sample_rate` 96000."""
    y, sr = mix
    x = soxr.resample(y[: 6 * sr], sr, rate).astype(np.float32)
    audio = tmp_path / "take.flac"
    sf.write(audio, x, rate, subtype="PCM_24")
    result = run_separation(audio_path=audio, results_dir=tmp_path / "out",
                            options=SeparationOptions(model="hpss", format="mp3"))
    assert result["sample_rate"] == mp3_rate and result["duration_seconds"] == pytest.approx(6.0, abs=0.01)
    for name in result["files"]:
        info = sf.info(tmp_path / "out" / name)
        assert (info.format, info.samplerate, info.channels) == ("MP3", mp3_rate, 1), info
        assert info.duration == pytest.approx(6.0, abs=0.2)
