"""A prompt longer than the model's context is refused before the model is loaded: counted by the model's tokenizer
alone (its tokenizer files, no weights), so no load is paid for a refusal and another user's resident model stays.
A stranger's 9,000 words to an unloaded SmolLM2 were refused only after the load (the job at 30 %, LOAD_SHARE).
Real HTTP, Redis, Celery worker and SmolLM2 weights; then a ModelManager with SmolLM2 resident asked for a second
registered model (the same weights under another name) with a prompt that cannot fit it."""

from __future__ import annotations

import pytest

from config import MODEL_REGISTRY
from models import LOAD_SHARE, ModelManager
from tests.tiny_llms import build_tiny_phi3
from tests.tiny_tokenizers import MAX_POSITIONS
from worker.errors import ContextLengthError
from worker.llm.options import GenerateOptions

TOO_LONG = "word " * 9000  # ~9,000 tokens: SmolLM2 attends over 8,192


def test_a_prompt_over_the_context_is_refused_before_the_model_is_loaded(client, smollm2_folder):
    assert client.post("/api/v2/models/unload", json={}).status_code == 200
    r = client.post("/api/v2/models/generate", json={"prompt": TOO_LONG, "max_length": 4, "wait": 300})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["details"]["context_length"] == 8192, error
    assert error["details"]["prompt_tokens"] > 8192
    job = client.wait_job(r.json()["job_id"], timeout=60)
    assert job["state"] == "failed" and job["progress"] < LOAD_SHARE, job  # it had loaded the model first (0.3)
    assert client.get("/api/v2/models/status").json()["current_model"] is None


def test_the_resident_model_stays_when_another_is_refused(smollm2_settings, tmp_path):
    """SmolLM2 resident; a tiny phi-4-reasoning (random weights, its real layout: tests/tiny_llms.py) asked to read a
    prompt over its 4,096 tokens: refused, and SmolLM2 was neither unloaded nor the other loaded."""
    build_tiny_phi3(tmp_path / MODEL_REGISTRY["phi-4-reasoning"]["repo_id"])
    manager = ModelManager({**smollm2_settings, "MODELS_DIR": str(tmp_path)})
    try:
        manager.load_llm("smollm2-135m")
        with pytest.raises(ContextLengthError) as refused:
            manager.generate(GenerateOptions(prompt=TOO_LONG, max_length=4, model_type="phi-4-reasoning"))
        assert refused.value.details["prompt_tokens"] > refused.value.details["context_length"] == MAX_POSITIONS
        assert manager.current_model == "smollm2-135m"  # not evicted for a prompt the other could never read
        assert manager.status()["last_unload"] is None
    finally:
        manager.unload_all()

