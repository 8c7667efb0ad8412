"""Weight-free separation (HPSS, REPET-SIM): stems add back up to the mixture and go where they should."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.audio_synth import flac_declaring
from worker.separation.options import SeparationOptions
from worker.separation.pipeline import Separator, run_separation

SR = 22050  # Hz; the DSP methods work at the file's own rate


def _tone_and_clicks(seconds: float, channels: int = 2):
    """A steady two-note organ (harmonic) and a click every 0.25 s (percussive), returned separately."""
    t = np.arange(int(seconds * SR)) / SR
    tone = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 440 * t)
    clicks = np.zeros_like(t)
    for start in np.arange(0.1, seconds, 0.25):
        i = int(start * SR)
        clicks[i:i + 64] += np.random.default_rng(i).uniform(-0.5, 0.5, min(64, t.size - i))
    pan = np.linspace(0.6, 1.0, channels)[:, None]
    return (tone[None] * pan).astype(np.float32), (clicks[None] * pan[::-1]).astype(np.float32)


@pytest.fixture(scope="module")
def mixture():
    tone, clicks = _tone_and_clicks(20.0)
    return tone, clicks, tone + clicks


@pytest.mark.parametrize("method", ["hpss", "repet"])
def test_stems_sum_to_mixture(method, mixture):
    mix = mixture[2]
    stems = Separator(method).separate_array(mix, SR)
    assert all(v.shape == mix.shape for v in stems.values())
    residual = sum(stems.values()) - mix
    # masks sum to one; what is left is the inverse STFT's rounding and the cross-fades between windows
    assert np.sqrt(np.mean(residual ** 2)) / np.sqrt(np.mean(mix ** 2)) < 1e-3


def test_hpss_puts_tone_and_clicks_apart(mixture):
    tone, clicks, mix = mixture
    stems = Separator("hpss").separate_array(mix, SR)

    def corr(a, b):
        return float(np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b)))

    assert corr(stems["harmonic"], tone) > 0.95
    assert corr(stems["percussive"], clicks) > 0.8


def test_repet_keeps_the_repeating_part_as_accompaniment():
    """A loop repeated every 2 s plus a gliding, never-repeating 'voice': the voice lands in the vocal stem."""
    seconds = 16.0
    t = np.arange(int(seconds * SR)) / SR
    loop = 0.2 * np.sin(2 * np.pi * 110 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0) + 0.1 * np.sin(2 * np.pi * 330 * t)
    voice = 0.15 * np.sin(2 * np.pi * np.cumsum(600 + 300 * np.sin(2 * np.pi * 0.13 * t)) / SR)
    mix = (loop + voice)[None].astype(np.float32)
    stems = Separator("repet").separate_array(mix, SR)
    v, a = stems["vocals"][0], stems["accompaniment"][0]
    assert np.dot(v, voice) / np.dot(v, v) > np.dot(a, voice) / np.dot(a, a)
    assert np.dot(a, loop) > np.dot(v, loop)


def test_run_separation_dsp_is_labelled_and_written(mixture, tmp_path):
    audio = tmp_path / "take.flac"
    sf.write(audio, mixture[2][:, : 5 * SR].T, SR)
    result = run_separation(audio_path=audio, results_dir=tmp_path / "out",
                            options=SeparationOptions(model="repet", two_stems="vocals", format="flac"))
    assert result["method"] == "dsp" and result["files"] == ["vocals_take.flac", "no_vocals_take.flac"]
    y = [sf.read(tmp_path / "out" / n, dtype="float32")[0] for n in result["files"]]
    assert y[0].shape == (5 * SR, 2)
    np.testing.assert_allclose(y[0] + y[1], mixture[2][:, : 5 * SR].T, atol=2e-3)  # 24-bit FLAC + STFT rounding


def test_catalog_reads_demucs_lists_without_torch():
    """catalog.py answers the API's questions from the demucs package's files, equal to demucs' own readers."""
    import subprocess
    import sys
    from pathlib import Path

    from demucs.hf import hf_repo_name
    from demucs.pretrained import REMOTE_ROOT, _parse_remote_files

    from worker.separation import catalog

    assert catalog.remote_files() == _parse_remote_files(Path(REMOTE_ROOT) / "files.txt")
    assert {"htdemucs", "htdemucs_ft", "htdemucs_6s", "mdx_extra"} <= set(catalog.pretrained_names())
    for name in catalog.pretrained_names():
        assert catalog.hf_repo_name(name) == hf_repo_name(name)
    code = ("import sys; from worker.separation.options import SeparationOptions; "
            "SeparationOptions.from_request({'model': 'htdemucs_ft'}); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"


def test_a_flac_of_undeclared_length_is_separated_whole(mixture, tmp_path):
    # Streamed encoders leave STREAMINFO's total unset: libsndfile fails at such a file's end, so the
    # separation reads it with FFmpeg and takes the length it decoded, not the header's "unknown".
    declared = tmp_path / "declared.flac"
    sf.write(declared, mixture[2][:, : 5 * SR].T, SR)
    audio = flac_declaring(tmp_path / "take.flac", source=declared, total_samples=0)
    result = run_separation(audio_path=audio, results_dir=tmp_path / "out",
                            options=SeparationOptions(model="hpss", format="flac"))
    assert result["duration_seconds"] == 5.0
    y = [sf.read(tmp_path / "out" / n, dtype="float32")[0] for n in result["files"]]
    assert all(stem.shape == (5 * SR, 2) for stem in y)
    np.testing.assert_allclose(sum(y), mixture[2][:, : 5 * SR].T, atol=3e-3)
