"""Demucs separation through the real loading path, with a tiny random HTDemucs (tests/tiny_audio_models.py)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.contract import assert_shape
from tests.tiny_audio_models import TINY_DEMUCS_NAME, build_tiny_htdemucs, build_tiny_htdemucs_hf
from worker.errors import InvalidRequestError, JobCanceled, ModelNotAvailableError, OutOfMemoryError
from worker.separation.options import SeparationOptions
from worker.separation.pipeline import Separator, run_separation
from worker.separation.runner import Track, overlap_add
from worker.separation.weights import load_demucs

SR = 44100  # Hz, the model's rate
CLIP_SECONDS = 20.0


def _music(seconds: float, sr: int, channels: int, seed: int = 0) -> np.ndarray:
    """A bass line, a chord and noise bursts: (channels, n) float32, peaks around 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    bass = 0.25 * np.sin(2 * np.pi * 55 * t * (1 + (t % 2 > 1)))
    chord = sum(0.08 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    hats = 0.2 * rng.standard_normal(t.size) * (np.exp(-40 * (t % 0.25)))
    mono = bass + chord + hats
    chans = [np.roll(mono, 37 * c) * (1 - 0.2 * c) for c in range(channels)]
    return np.asarray(chans, np.float32)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    build_tiny_htdemucs(root / "demucs")
    return root


@pytest.fixture(scope="session")
def tiny_model(models_dir):
    torch.set_num_threads(1)
    model, nbytes = load_demucs(TINY_DEMUCS_NAME, models_dir=models_dir, device="cpu")
    assert nbytes > 0
    return model


@pytest.fixture(scope="session")
def clip():
    return _music(CLIP_SECONDS, SR, 2)


def test_load_paths_and_errors(models_dir, tiny_model, tmp_path):
    assert tiny_model.sources == ["drums", "bass", "other", "vocals"] and tiny_model.samplerate == SR
    build_tiny_htdemucs_hf(tmp_path / "adefossez" / "Demucs-tiny_htdemucs")  # demucs.hf.hf_repo_name's spelling
    from_hf, _ = load_demucs(TINY_DEMUCS_NAME, models_dir=tmp_path, device="cpu")
    a, b = tiny_model.models[0].state_dict(), from_hf.models[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(InvalidRequestError, match="available: .*htdemucs"):
        load_demucs("no_such_model", models_dir=models_dir)
    with pytest.raises(ModelNotAvailableError, match="huggingface-cli download"):
        load_demucs("htdemucs_6s", models_dir=tmp_path / "empty")


def test_options_validate(models_dir):
    SeparationOptions().validate()
    settings = {"MODELS_DIR": str(models_dir)}
    SeparationOptions(model=TINY_DEMUCS_NAME, two_stems="vocals", format="mp3").validate(settings)
    for bad in (dict(model="nope"), dict(format="ogg"), dict(two_stems="kazoo"), dict(segment=0.1),
                dict(overlap=0.95), dict(shifts=-1), dict(shifts=True), dict(model="hpss", two_stems="vocals")):
        with pytest.raises(InvalidRequestError):
            SeparationOptions(**bad).validate()
    with pytest.raises(InvalidRequestError, match="unknown separation option") as caught:
        SeparationOptions.from_request({"modle": "htdemucs"})
    assert caught.value.details["unknown"] == ["modle"]


def test_segmented_runner_equals_apply_model(tiny_model, clip):
    """Same windows, taper and normalisation as demucs' own apply_model: equal up to float error."""
    from demucs.apply import apply_model

    ours = Separator(tiny_model, shifts=0, overlap=0.25).separate_array(clip, SR)
    x = torch.from_numpy(clip)
    ref = x.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8
    theirs = apply_model(tiny_model, ((x - mean) / std)[None], shifts=0, split=True, overlap=0.25)[0] * std + mean
    for i, name in enumerate(tiny_model.sources):
        assert ours[name].shape == clip.shape
        np.testing.assert_allclose(ours[name], theirs[i].numpy(), atol=2e-5)


def test_run_separation_writes_every_stem_wav(tiny_model, clip, tmp_path):
    audio = tmp_path / "song.wav"
    sf.write(audio, clip.T, SR)
    seen = []
    result = run_separation(audio_path=audio, results_dir=tmp_path / "results",
                            options=SeparationOptions(model=TINY_DEMUCS_NAME, shifts=0),
                            separator_or_model=tiny_model, progress=lambda f, s: seen.append(f))
    assert result["files"] == [f"{s}_song.wav" for s in ("drums", "bass", "other", "vocals")]
    assert_shape("DemucsResult", result)
    assert result["method"] == "demucs" and result["sample_rate"] == SR and result["channels"] == 2
    for name in result["files"]:
        y, sr = sf.read(tmp_path / "results" / name, dtype="float32")
        assert sr == SR and y.shape == (clip.shape[1], 2) and np.abs(y).max() > 1e-3
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 3  # one report per window at least


def test_mono_low_rate_flac_two_stems(tiny_model, tmp_path):
    """22.05 kHz mono in -> resampled to 44.1 kHz stereo for the model -> 22.05 kHz mono out, same length."""
    sr = 22050
    mono = _music(3.0, sr, 1, seed=1)
    audio = tmp_path / "mono.flac"
    sf.write(audio, mono.T, sr)
    result = run_separation(audio_path=audio, results_dir=tmp_path,
                            options=SeparationOptions(model=TINY_DEMUCS_NAME, two_stems="vocals", format="flac",
                                                      shifts=1), separator_or_model=tiny_model)
    assert result["files"] == ["vocals_mono.flac", "no_vocals_mono.flac"]
    parts = [sf.read(tmp_path / n, dtype="float32") for n in result["files"]]
    for y, rate in parts:
        assert rate == sr and y.ndim == 1 and y.shape[0] == mono.shape[1]


def test_mp3_and_multichannel(tiny_model, tmp_path):
    sr = 48000
    audio = tmp_path / "live.wav"
    sf.write(audio, _music(3.0, sr, 2, seed=2).T, sr)
    result = run_separation(audio_path=audio, results_dir=tmp_path, separator_or_model=tiny_model,
                            options=SeparationOptions(model=TINY_DEMUCS_NAME, format="mp3", shifts=0))
    for name in result["files"]:
        y, rate = sf.read(tmp_path / name, dtype="float32")
        assert rate == sr and y.shape[1] == 2 and abs(y.shape[0] / sr - 3.0) < 0.1  # MP3 frames pad the ends
    three = _music(2.0, SR, 3, seed=3)  # fed as two stereo pairs (the last one doubled), written back as 3
    stems = Separator(tiny_model, shifts=0).separate_array(three, SR)
    assert all(v.shape == three.shape for v in stems.values())


def test_cancel_leaves_no_files(tiny_model, clip, tmp_path):
    audio = tmp_path / "song.wav"
    sf.write(audio, clip.T, SR)
    out = tmp_path / "results"
    out.mkdir()

    def cancel_after_first(fraction, stage):
        if fraction > 0:
            raise JobCanceled("canceled")

    with pytest.raises(JobCanceled):
        run_separation(audio_path=audio, results_dir=out, separator_or_model=tiny_model,
                       options=SeparationOptions(model=TINY_DEMUCS_NAME, format="flac"), progress=cancel_after_first)
    assert list(out.iterdir()) == []


class _MemoryLimited(torch.nn.Module):
    """Stands in for a GPU that runs out of memory above `limit` samples per window (no GPU here)."""

    def __init__(self, inner, limit: int):
        super().__init__()
        self.inner, self.limit = inner, limit
        self.sources, self.samplerate, self.audio_channels = inner.sources, inner.samplerate, inner.audio_channels
        self.segment = inner.segment

    def forward(self, x):
        if x.shape[0] * x.shape[-1] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner(x)


def test_out_of_memory_retries_with_smaller_segment(tiny_model, tmp_path):
    sub = tiny_model.models[0]
    audio = tmp_path / "short.wav"
    sf.write(audio, _music(3.0, SR, 2, seed=4).T, SR)
    options = SeparationOptions(model=TINY_DEMUCS_NAME, shifts=0)  # the model's own 4 s segments
    fits_half = Separator(_MemoryLimited(sub, limit=3 * SR))
    result = run_separation(audio_path=audio, results_dir=tmp_path / "a", options=options,
                            separator_or_model=fits_half)
    assert result["retried_after_oom"] and result["segment_seconds"] == 2.0
    assert sf.info(tmp_path / "a" / "vocals_short.wav").frames == 3 * SR
    with pytest.raises(OutOfMemoryError):
        run_separation(audio_path=audio, results_dir=tmp_path / "b", options=options,
                       separator_or_model=Separator(_MemoryLimited(sub, limit=SR // 2)))
    assert not list((tmp_path / "b").glob("*"))


def test_runner_is_exact_and_bounded_on_a_long_signal():
    """With an identity "model" overlap-add must give back the input exactly, also with shifts, and read
    only a bounded distance ahead of what it has emitted (constant memory)."""
    sr, seconds = 1000, 600  # 10 minutes at a low rate keeps this fast
    x = np.random.default_rng(5).standard_normal((1, 2, sr * seconds)).astype(np.float32)
    pulled = [0]

    def blocks():
        for i in range(0, x.shape[-1], 700):
            pulled[0] = min(i + 700, x.shape[-1])
            yield x[..., i:i + 700]

    def identity(w):
        return np.stack([w, 2 * w], axis=1)

    length = 8 * sr
    tracks = [Track(identity, length, length, length * 3 // 4, d, np.ones(2, np.float32)) for d in (0, 120, 499)]
    emitted, lead = 0, 0
    out = []
    for block in overlap_add(tracks, blocks(), batch=1, channels=2, total_hint=x.shape[-1]):
        out.append(block)
        emitted += block.shape[-1]
        lead = max(lead, pulled[0] - emitted)
    y = np.concatenate(out, axis=-1)
    assert y.shape == (1, 2, 2, x.shape[-1])
    np.testing.assert_allclose(y[:, 0], x, atol=1e-5)
    np.testing.assert_allclose(y[:, 1], 2 * x, atol=1e-5)
    assert lead <= 2 * length + 700
