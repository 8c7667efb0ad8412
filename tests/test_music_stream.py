"""Streaming decode and block-wise features give the one-shot results, with bounded memory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.music_signals import SR, cadence, click_track
from worker.audio_blocks import array_blocks, mono_blocks, stream_info
from worker.audio_io import load_audio
from worker.music import pipeline as music_pipeline
from worker.music.chroma import stft_mag
from worker.music.frames import FrameStream
from worker.music.options import PitchOptions


def _song(seconds: float = 12.0) -> np.ndarray:
    y, _ = cadence(5, bars=int(seconds / 2))
    return (y + 0.4 * click_track(120.0, len(y) / SR)).astype(np.float32)


@pytest.mark.parametrize("n_fft,hop,block", [(8192, 1024, 5000), (2048, 256, 777), (1024, 128, 100000)])
def test_frame_stream_equals_the_one_shot_stft(n_fft, hop, block):
    y = np.random.default_rng(0).standard_normal(SR * 3 + 17).astype(np.float32)
    stream = FrameStream(n_fft, hop)
    parts = [stream.push(y[a : a + block]) for a in range(0, len(y), block)] + [stream.finish()]
    blocked = np.concatenate(parts, axis=1)
    whole = stft_mag(y, n_fft=n_fft, hop=hop)
    assert blocked.shape == whole.shape == (n_fft // 2 + 1, len(y) // hop + 1)
    np.testing.assert_array_equal(blocked, whole)


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_mono_blocks_concatenate_to_the_resampled_file(tmp_path: Path, fmt: str):
    stereo = np.stack([_song(), 0.5 * _song()[::-1]], axis=1)
    wav = tmp_path / "x.wav"
    sf.write(str(wav), stereo, SR)
    path = wav
    if fmt != "wav":
        path = tmp_path / f"x.{fmt}"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), str(path)], check=True)
    whole, _ = load_audio(path, sr=16000, mono=True)
    blocks = list(mono_blocks(path, target_sr=16000, block_seconds=1.3))
    assert len(blocks) > 5 and max(len(b) for b in blocks) < 16000 * 2
    np.testing.assert_allclose(np.concatenate(blocks), whole, atol=1e-6)
    assert stream_info(path).sample_rate == SR and stream_info(path).channels == 2


def test_array_blocks_resample_like_the_file_blocks():
    y = _song()
    out = np.concatenate(list(array_blocks(y, sr=SR, target_sr=11025, block_seconds=0.7)))
    from worker.audio_io import resample

    np.testing.assert_allclose(out, resample(y, orig_sr=SR, target_sr=11025), atol=1e-6)


def test_streaming_a_file_twice_gives_the_held_result(tmp_path: Path):
    """A long file is decoded once per pass instead of being held: the result must not change."""
    path = tmp_path / "song.flac"
    sf.write(str(path), _song(40.0), SR)
    options = PitchOptions()
    held, _ = music_pipeline._analyze(music_pipeline._file_blocks(path), options=options, progress=None,
                                      lap=music_pipeline._Laps())
    streamed, _ = music_pipeline._analyze(music_pipeline._file_blocks(path, hold_seconds=0.0), options=options,
                                          progress=None, lap=music_pipeline._Laps())
    assert held == streamed
    assert held["key"]["label"] == "F major" and held["tempo_bpm"] == pytest.approx(120.0, rel=0.02)


def test_a_channel_in_inverted_polarity_does_not_cancel_the_music(tmp_path: Path):
    """Two of the pingus game's tracker tunes (Debian's pingus-data) are a left channel and its negation: their
    plain average is silence, and the music and features analyses reported silence. The channel is turned first."""
    from worker.audio_io import to_mono
    from worker.features.pipeline import analyze_file

    song = _song(20.0)
    path = tmp_path / "surround.flac"
    sf.write(str(path), np.stack([song, -song], axis=1), SR, subtype="PCM_24")
    np.testing.assert_allclose(np.concatenate(list(mono_blocks(path))), song, atol=1e-5)
    result, _ = music_pipeline._analyze(music_pipeline._file_blocks(path), options=PitchOptions(), progress=None,
                                        lap=music_pipeline._Laps())
    assert "silence: nothing to analyse" not in result["warnings"], result["warnings"]
    assert result["key"]["label"] == "F major" and result["tempo_bpm"] == pytest.approx(120.0, rel=0.02)
    rms = float(np.sqrt(np.mean(np.square(song, dtype=np.float64))))
    assert analyze_file(path).features["rms_energy"] == pytest.approx(rms, rel=1e-3)
    # ordinary stereo, one channel alone, and eight unrelated channels keep the plain average
    rng = np.random.default_rng(1)
    for y in (np.stack([song, 0.5 * song[::-1]]), np.stack([song, np.zeros_like(song)]),
              rng.standard_normal((8, 5000)).astype(np.float32)):
        np.testing.assert_array_equal(to_mono(y), y.mean(axis=0, dtype=np.float32))


def test_the_bar_moves_while_the_file_is_scanned_and_gives_each_pass_its_cost(tmp_path: Path):
    """A 20-minute recording's pitch job spends ~24 % of its time in the first pass (the scan) and ~58 % in the
    second: the bar had stood at 0 % through the scan (17 s) and given what follows the passes half of it, so the
    job's time left from its rate said 2 min where 50 s were left (jobs/estimates.py)."""
    path = tmp_path / "song.flac"
    sf.write(path, _song(40.0), SR)
    marks: list[tuple[float, str]] = []
    music_pipeline.run_pitch(audio_path=path, results_dir=tmp_path, options=PitchOptions(),
                             progress=lambda share, stage: marks.append((share, stage)))
    shares = [share for share, _ in marks]
    assert shares == sorted(shares), marks
    scanning = {share for share, stage in marks if stage == "scan"}
    assert len(scanning) >= 3 and max(scanning) == music_pipeline.FEATURES_START, marks  # it moves, then hands on
    second = [share for share, stage in marks if stage == "chroma"]
    assert second[0] == music_pipeline.FEATURES_START and second[-1] == music_pipeline.FEATURES_END, marks
    assert music_pipeline.FEATURES_END - music_pipeline.FEATURES_START >= 0.5  # the pass that costs most
    assert marks[-1] == (music_pipeline.JSON_AT, "write") and music_pipeline.JSON_AT >= 0.98, marks
