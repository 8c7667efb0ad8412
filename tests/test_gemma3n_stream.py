"""The audio-LLM processor reads its file block by block: the same plan, features and model audio as from an
array in memory, and memory that does not grow with the recording (no model is needed for preprocess)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from config import load_settings
from models import ModelManager
from tests.audio_synth import flac_declaring
from worker.audio_io import load_audio
from worker.audio_llm.options import Gemma3NOptions
from worker.audio_llm.processor import Gemma3NProcessor
from worker.errors import JobCanceled

SR = 44100  # Hz
AUDIO_MODEL, TEXT_MODEL = "gemma-3n-E2B", "gemma-3-12b-it"  # registry entries; preprocess loads no weights


@pytest.fixture(scope="module")
def processor():
    return Gemma3NProcessor(ModelManager(load_settings({}, dotenv=False)))


def music(seconds: float, *, seed: int = 0) -> np.ndarray:
    """(2, n) float32: a chord whose loudness and brightness change every 10 s, with noise hits."""
    t = np.arange(int(seconds * SR)) / SR
    level = 0.1 + 0.3 * ((t // 10) % 3) / 2
    chord = sum(np.sin(2 * np.pi * f * (1 + (t // 10) % 2) * t) for f in (220.0, 277.2, 329.6)) / 3
    hits = np.random.default_rng(seed).standard_normal(len(t)) * np.exp(-40 * (t % 0.5))
    return np.stack([level * chord + 0.1 * hits, level * chord - 0.1 * hits]).astype(np.float32)


def _flac(path, y):
    sf.write(path, y.T, SR, subtype="PCM_16")
    return path


def _assert_same_plan(a, b):
    assert [(s.start, s.end) for s in a.spans] == [(s.start, s.end) for s in b.spans]
    assert a.duration_seconds == b.duration_seconds and a.channels == b.channels
    assert a.features.keys() == b.features.keys()
    for key in ("rms_energy", "loudness_lufs", "spectral_centroid_hz", "zero_crossing_rate", "silence_fraction"):
        assert a.features[key] == pytest.approx(b.features[key], rel=1e-5, abs=1e-9), key
    assert a.span_features == b.span_features
    assert [c.kind for c in a.calls] == [c.kind for c in b.calls]
    assert [c.user_text for c in a.calls] == [c.user_text for c in b.calls]


@pytest.mark.parametrize("model", [AUDIO_MODEL, TEXT_MODEL])
def test_a_file_is_planned_as_its_decoded_array(processor, tmp_path, model):
    path = _flac(tmp_path / "take.flac", music(75.0))
    options = Gemma3NOptions(task="analyze", model_variant=model)
    y, sr = load_audio(path)  # the file's own samples (16-bit), as the array path gets them
    from_file = processor.preprocess_file(path, options=options, spill_dir=tmp_path)
    from_array = processor.preprocess(y, sr, options=options, filename="take.flac")
    _assert_same_plan(from_file, from_array)
    if model == AUDIO_MODEL:
        assert len(from_file.calls) == 3  # 75 s in 25 s chunks of at most 30 s
        for a, b in zip(from_file.calls, from_array.calls, strict=True):
            np.testing.assert_allclose(a.audio, b.audio, atol=1e-6)
            assert a.audio.shape == (25 * 16000,)
    assert [p.name for p in tmp_path.iterdir()] == ["take.flac"]  # the 16 kHz copy is an unnamed file


def test_a_flac_of_undeclared_length_is_counted_then_planned_the_same(processor, tmp_path):
    declared = _flac(tmp_path / "declared.flac", music(40.0))
    undeclared = flac_declaring(tmp_path / "undeclared.flac", source=declared, total_samples=0)
    options = Gemma3NOptions(task="analyze", model_variant=AUDIO_MODEL)
    a = processor.preprocess_file(declared, options=options)
    b = processor.preprocess_file(undeclared, options=options)
    _assert_same_plan(a, b)
    np.testing.assert_array_equal(a.calls[-1].audio, b.calls[-1].audio)


def _peak_bytes(processor, path, options) -> tuple[int, list[int]]:
    tracemalloc.start()
    try:
        prepared = processor.preprocess_file(path, options=options, spill_dir=path.parent)
        heard = [len(c.audio) for c in prepared.calls]
        return tracemalloc.get_traced_memory()[1], heard
    finally:
        tracemalloc.stop()


def test_preprocess_memory_does_not_grow_with_the_recording(processor, tmp_path):
    # One and five minutes of 44.1 kHz stereo. The whole-file version held the waveform (106 MB for five
    # minutes), its mono mix (53 MB) and the 16 kHz copy (19 MB) at once, so its peak grew by ~140 MB from
    # one to five minutes; streaming holds a decoder block and the features' fixed-size state.
    block = music(30.0).T
    paths = {}
    for minutes in (1, 5):
        paths[minutes] = tmp_path / f"take_{minutes}min.flac"
        with sf.SoundFile(str(paths[minutes]), "w", samplerate=SR, channels=2, subtype="PCM_16") as f:
            for _ in range(2 * minutes):
                f.write(block)
    options = Gemma3NOptions(task="analyze", model_variant=AUDIO_MODEL)
    _peak_bytes(processor, paths[1], options)  # first use: filter banks and caches, not the recording
    short, _ = _peak_bytes(processor, paths[1], options)
    long, heard = _peak_bytes(processor, paths[5], options)
    assert sum(heard) == 300 * 16000 and len(heard) == 10
    assert long < short + 15e6, f"peak {short / 1e6:.0f} MB on 1 minute, {long / 1e6:.0f} MB on 5"
    assert long < 100e6


def test_the_decode_reports_progress_and_a_cancel_stops_it(processor, tmp_path):
    path = _flac(tmp_path / "take.flac", music(60.0))
    options = Gemma3NOptions(task="analyze", model_variant=AUDIO_MODEL)
    seen: list[float] = []
    processor.preprocess_file(path, options=options, progress=lambda fraction, stage: seen.append(fraction))
    assert seen == sorted(seen) and 0 < seen[0] <= 0.2 and seen[-1] == 1.0

    def cancel_halfway(fraction: float, stage: str) -> None:
        if fraction >= 0.5:
            raise JobCanceled("canceled")

    results = tmp_path / "results"
    results.mkdir()
    with pytest.raises(JobCanceled):
        processor.preprocess_file(path, options=options, spill_dir=results, progress=cancel_halfway)
    assert list(results.iterdir()) == []


def test_a_section_is_measured_on_every_channel_as_the_whole_is(processor, tmp_path):
    """A stranger's stereo track of one 27 s section read -18.4 LUFS as a whole and -24.3 as its section, the
    section measured on the mono mix: the same audio now gets the same loudness in both places."""
    path = _flac(tmp_path / "one-section.flac", music(20.0))
    options = Gemma3NOptions(task="analyze", model_variant=AUDIO_MODEL)
    plan = processor.preprocess_file(path, options=options)
    [section] = plan.span_features
    assert plan.channels == 2
    assert section["loudness_lufs"] == pytest.approx(plan.features["loudness_lufs"], abs=0.05)
