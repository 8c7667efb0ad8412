"""MusicGen through the real loading path with a tiny random model (tests/tiny_audio_models.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.contract import assert_shape
from tests.tiny_audio_models import build_tiny_musicgen
from worker.errors import InvalidRequestError, JobCanceled, ModelNotAvailableError
from worker.musicgen.options import MusicGenOptions
from worker.musicgen.pipeline import generate_music, run_musicgen
from worker.musicgen.weights import load_musicgen

SR = 32000  # Hz, EnCodec 32 kHz like the real MusicGen
PASS = dict(max_pass_seconds=2.0, context_seconds=1.0)  # short passes so continuation is cheap to test


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("models")
    build_tiny_musicgen(root / "facebook" / "musicgen-small")  # the hub repo id under MODELS_DIR
    b, nbytes = load_musicgen("musicgen-small", models_dir=root, device="cpu")
    assert nbytes > 0 and b.sample_rate == SR and b.frame_rate == 50 and not b.melody
    return b


def test_exact_duration_non_silent_and_seeded(bundle):
    opts = MusicGenOptions(prompt="calm piano", duration_seconds=1.37, seed=7)
    a, info = generate_music(bundle, opts)
    b, _ = generate_music(bundle, opts)
    c, _ = generate_music(bundle, MusicGenOptions(prompt="calm piano", duration_seconds=1.37, seed=8))
    assert a.shape == (1, round(1.37 * SR)) and a.dtype == np.float32 and info["passes"] == 1
    assert a.std() > 1e-3  # random weights give noise, not silence
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4


def test_continuation_over_one_pass(bundle):
    seen = []
    long, info = generate_music(bundle, MusicGenOptions(prompt="loud drum beat", duration_seconds=4.5, seed=3),
                                lambda f, s: seen.append(f), **PASS)
    assert long.shape == (1, int(4.5 * SR)) and info["passes"] == 4  # 2 s, then 1 s new per pass
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) > 20
    first, _ = generate_music(bundle, MusicGenOptions(prompt="loud drum beat", duration_seconds=2.0, seed=3), **PASS)
    np.testing.assert_array_equal(long[:, : 2 * SR], first)  # the first pass is the same piece
    tail = long[:, 2 * SR:]
    assert tail.std() > 1e-3


def test_run_musicgen_writes_wav_mp3_and_settings(bundle, tmp_path):
    opts = MusicGenOptions(prompt="slow jazz guitar", duration_seconds=1.0, seed=11, mp3=True, top_k=50,
                           temperature=0.9, guidance_scale=2.0)
    result = run_musicgen(results_dir=tmp_path, options=opts, bundle=bundle, output_stem="job42")
    assert result["files"] == ["job42.wav", "job42.mp3", "job42.json"]
    assert_shape("MusicgenResult", result)
    y, sr = sf.read(tmp_path / "job42.wav", dtype="float32")
    assert sr == SR and y.shape == (SR,)
    y3, sr3 = sf.read(tmp_path / "job42.mp3", dtype="float32")
    assert sr3 == SR and abs(y3.shape[0] - SR) < 0.1 * SR
    meta = json.loads((tmp_path / "job42.json").read_text())
    assert meta["prompt"] == "slow jazz guitar" and meta["seed"] == 11 and meta["settings"]["top_k"] == 50
    assert meta["duration_seconds"] == 1.0 and meta["sample_rate"] == SR


def test_cancel_writes_nothing(bundle, tmp_path):
    def cancel(fraction, stage):
        if fraction > 0.3:
            raise JobCanceled("canceled")

    with pytest.raises(JobCanceled):
        run_musicgen(results_dir=tmp_path, options=MusicGenOptions(prompt="rock", duration_seconds=1.0),
                     bundle=bundle, progress=cancel)
    assert list(tmp_path.iterdir()) == []


def test_options_and_missing_weights(tmp_path):
    MusicGenOptions(prompt="x").validate()
    MusicGenOptions(prompt="x", model="musicgen-melody", melody_file="tune.wav").validate()
    for bad in (dict(prompt=""), dict(prompt="x", model="musicgen-huge"), dict(prompt="x", duration_seconds=0),
                dict(prompt="x", duration_seconds=1000), dict(prompt="x", temperature=0), dict(prompt="x", top_k=-1),
                dict(prompt="x", guidance_scale=0.5), dict(prompt="x", seed=-3), dict(prompt="x", seed=1.5),
                dict(prompt="x", melody_file="tune.wav"), dict(prompt="x", mp3="yes")):
        with pytest.raises(InvalidRequestError):
            MusicGenOptions(**bad).validate()
    with pytest.raises(ModelNotAvailableError, match="huggingface-cli download facebook/musicgen-medium"):
        load_musicgen("musicgen-medium", models_dir=tmp_path)


def test_melody_model_with_a_melody_file(tmp_path):
    from worker.musicgen.pipeline import melody_chroma

    build_tiny_musicgen(tmp_path / "musicgen-melody", melody=True)
    melody_bundle, _ = load_musicgen("musicgen-melody", models_dir=tmp_path)
    assert melody_bundle.melody
    sr = 44100
    t = np.arange(3 * sr) / sr
    tune = tmp_path / "tune.wav"
    sf.write(tune, 0.3 * np.sin(2 * np.pi * 440.0 * t), sr)  # a held A4
    chroma = melody_chroma(0.3 * np.sin(2 * np.pi * 440.0 * t).astype(np.float32), sr, melody_bundle)
    assert chroma.shape == (1, 1 + 3 * SR // 4096, 12)  # one frame per hop, centred STFT
    assert (chroma[0].argmax(axis=1) == 9).all() and (chroma.sum(axis=2) == 1).all()  # A is bin 9 (C = 0)
    opts = MusicGenOptions(prompt="calm piano", model="musicgen-melody", duration_seconds=2.5, seed=2,
                           melody_file="tune.wav")  # two passes: the second is conditioned on the tune's 1.0-2.5 s
    result = run_musicgen(results_dir=tmp_path / "out", options=opts, bundle=melody_bundle, melody_path=tune, **PASS)
    assert result["passes"] == 2 and sf.info(tmp_path / "out" / result["files"][0]).frames == int(2.5 * SR)
