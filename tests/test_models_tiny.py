"""ModelManager with tiny random checkpoints of every registered family, through the registry's normal path.

The four tiny folders are built once per session into a temporary MODELS_DIR in the download layout
(MODELS_DIR/<repo_id>), except Phi-4-multimodal, which is reached through its per-model path variable.
"""

from __future__ import annotations

import gc
import shutil
import weakref
from unittest.mock import ANY

import numpy as np
import pytest
import torch

from config import MODEL_REGISTRY, load_settings
from models import ModelManager
from tests.tiny_llms import build_tiny_gemma3, build_tiny_gemma3n, build_tiny_phi3, build_tiny_phi4mm
from worker.errors import (
    ContextLengthError,
    InvalidRequestError,
    JobCanceled,
    ModelError,
    ModelNotAvailableError,
    OutOfMemoryError,
)
from worker.llm.options import GenerateOptions, ModelLoadOptions

SAMPLE_RATE = 16000  # Hz, what both audio models' feature extractors expect


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    """{"models_dir", "phi4mm"}: a MODELS_DIR holding Gemma 3n E2B, Gemma 3 and Phi-4-reasoning, plus a
    separate Phi-4-multimodal folder (given via PHI4_MM_MODEL_PATH)."""
    torch.set_num_threads(1)
    models_dir = tmp_path_factory.mktemp("models")
    build_tiny_gemma3n(models_dir / MODEL_REGISTRY["gemma-3n-E2B"]["repo_id"])
    build_tiny_gemma3(models_dir / MODEL_REGISTRY["gemma-3-12b-it"]["repo_id"])
    build_tiny_phi3(models_dir / MODEL_REGISTRY["phi-4-reasoning"]["repo_id"])
    phi4mm = build_tiny_phi4mm(tmp_path_factory.mktemp("elsewhere") / "phi4mm")
    return {"models_dir": models_dir, "phi4mm": phi4mm}


@pytest.fixture()
def settings(tiny_dirs):
    return load_settings({"MODELS_DIR": str(tiny_dirs["models_dir"]), "PHI4_MM_MODEL_PATH": str(tiny_dirs["phi4mm"]),
                          "TORCH_NUM_THREADS": "1", "DEFAULT_MODEL": "phi-4-reasoning",
                          "AUDIO_MODEL_BUDGET_BYTES": "1000"}, dotenv=False)


@pytest.fixture()
def published():
    return []


@pytest.fixture()
def manager(settings, published):
    mm = ModelManager(settings, publish=published.append)
    yield mm
    mm.unload_all()


def row(status: dict, model_type: str) -> dict:
    return next(r for r in status["models"] if r["model_type"] == model_type)


def tone(seconds: float, hz: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("model_type", ["gemma-3n-E2B", "phi-4-multimodal", "gemma-3-12b-it", "phi-4-reasoning"])
def test_each_family_loads_generates_and_unloads(manager, model_type):
    report = manager.load_llm(model_type)
    assert report["model_type"] == model_type and report["attention"] == "sdpa" and report["dtype"] == "float32"
    result = manager.generate(GenerateOptions(prompt="Describe a minor chord.", max_length=6, temperature=0))
    assert result["model"] == model_type
    assert 1 <= result["tokens_generated"] <= 6 and result["seconds"] > 0 and result["prompt_tokens"] > 5
    ref = weakref.ref(manager.current_llm().model)
    unloaded = manager.unload()
    assert unloaded["unloaded"] == model_type and unloaded["weights_bytes"] > 0
    gc.collect()
    assert ref() is None and manager.current_model is None


def test_greedy_is_deterministic_and_seeded_sampling_repeats(manager):
    manager.load_llm("phi-4-reasoning")
    greedy = [manager.generate(GenerateOptions(prompt="abc", max_length=8, temperature=0))["response"]
              for _ in range(2)]
    sampled = [manager.generate(GenerateOptions(prompt="abc", max_length=8, temperature=1.0, seed=7))["response"]
               for _ in range(2)]
    assert greedy[0] == greedy[1] and sampled[0] == sampled[1]


@pytest.mark.parametrize("model_type", ["gemma-3n-E2B", "phi-4-multimodal"])
def test_audio_reaches_the_model(manager, model_type):
    manager.load_llm(model_type)
    options = GenerateOptions(messages=({"role": "user", "content": [{"type": "audio"},
                                                                     {"type": "text", "text": "Describe."}]},),
                              system="Be brief.", max_length=4, temperature=0)
    low = manager.generate(options, audio=[tone(2.0, 220.0)])
    assert low["audio_input"] is True
    # Audio soft tokens are in the prompt: far more prompt tokens than the text alone has.
    text_only = manager.generate(GenerateOptions(prompt="Describe.", system="Be brief.", max_length=4,
                                                 temperature=0))
    assert low["prompt_tokens"] > text_only["prompt_tokens"] + 20
    with pytest.raises(InvalidRequestError, match="1 audio part"):
        manager.generate(options)  # a placeholder without its audio


def test_text_only_model_refuses_audio(manager):
    manager.load_llm("phi-4-reasoning")
    options = GenerateOptions(messages=({"role": "user", "content": [{"type": "audio"}]},), max_length=2)
    with pytest.raises(InvalidRequestError, match="does not take audio"):
        manager.generate(options, audio=[tone(1.0, 440.0)])


def test_switch_leaves_only_the_new_model_resident(manager, published):
    manager.load_llm("gemma-3n-E2B")
    first = weakref.ref(manager.current_llm().model)
    first_processor = weakref.ref(manager.current_llm().processor)
    status = manager.status()
    assert status["current_model"] == "gemma-3n-E2B" and row(status, "gemma-3n-E2B")["loaded"]
    assert row(status, "gemma-3n-E2B")["memory"]["weights_bytes"] > 1_000_000

    report = manager.load_llm("phi-4-multimodal")
    gc.collect()
    assert first() is None and first_processor() is None
    assert report["unloaded"]["unloaded"] == "gemma-3n-E2B"
    assert report["unloaded"]["weights_bytes"] > 1_000_000
    status = manager.status()
    assert status["current_model"] == "phi-4-multimodal"
    assert [r["model_type"] for r in status["models"] if r["loaded"]] == ["phi-4-multimodal"]
    old = row(status, "gemma-3n-E2B")
    assert old["loaded"] is False and old["load_seconds"] > 0 and old["last_used"]
    assert published and published[-1]["current_model"] == "phi-4-multimodal"


def test_status_shape_after_load_and_unload(manager, tiny_dirs):
    status = manager.status()
    assert status["current_model"] is None and status["device"] == "cpu"
    assert {r["model_type"] for r in status["models"]} == set(MODEL_REGISTRY)
    for r in status["models"]:
        assert {"model_type", "name", "source", "downloaded", "loaded", "modalities", "memory", "load_seconds",
                "last_used", "attention"} <= set(r)
        assert {"gpu_allocated_bytes", "cpu_rss_bytes"} <= set(r["memory"])
    assert row(status, "phi-4-multimodal")["source"] == str(tiny_dirs["phi4mm"])
    assert row(status, "gemma-3n-E2B")["downloaded"] is True
    assert row(status, "gemma-3n-E4B")["downloaded"] is False
    assert row(status, "phi-4-multimodal")["modalities"] == ["text", "image", "audio"]

    manager.load_llm("phi-4-reasoning")
    loaded = row(manager.status(), "phi-4-reasoning")
    assert loaded["loaded"] and loaded["attention"] == "sdpa" and loaded["context_length"] == 4096
    assert loaded["load_seconds"] > 0 and loaded["last_used"]
    manager.unload()
    status = manager.status()
    assert status["current_model"] is None and not any(r["loaded"] for r in status["models"])
    assert status["last_unload"]["unloaded"] == "phi-4-reasoning"


def test_failed_load_of_a_corrupt_folder(manager, settings, tiny_dirs, tmp_path):
    corrupt = tmp_path / "gemma3"
    shutil.copytree(tiny_dirs["models_dir"] / MODEL_REGISTRY["gemma-3-12b-it"]["repo_id"], corrupt)
    weights = corrupt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    broken = ModelManager({**settings, "MODEL_PATHS": {**settings["MODEL_PATHS"], "GEMMA3_MODEL_PATH": str(corrupt)}})
    broken.load_llm("phi-4-reasoning")
    previous = weakref.ref(broken.current_llm().model)
    with pytest.raises(ModelError) as err:
        broken.load_llm("gemma-3-12b-it")
    assert err.value.code == "model_error"
    gc.collect()
    assert previous() is None  # the current one was unloaded first (one LLM rule), nothing half-loaded stays
    status = broken.status()
    assert status["current_model"] is None and status["loading"] is None
    failed = row(status, "gemma-3-12b-it")
    assert failed["loaded"] is False and failed["error"]["code"] == "model_error"
    broken.load_llm("phi-4-reasoning")  # the manager keeps serving
    assert broken.status()["current_model"] == "phi-4-reasoning"
    broken.unload_all()


def test_missing_weights_and_unknown_model(manager):
    manager.load_llm("phi-4-reasoning")
    with pytest.raises(ModelNotAvailableError, match=r"download_models.py gemma-3n-E4B") as err:
        manager.load_llm("gemma-3n-E4B")
    assert err.value.http_status == 409
    assert manager.current_model == "phi-4-reasoning"  # checked before touching the resident model
    with pytest.raises(InvalidRequestError, match="valid: gemma-3-12b-it"):
        manager.load_llm("gpt-17")
    with pytest.raises(InvalidRequestError, match="unknown model_type"):
        manager.generate(GenerateOptions(prompt="x", model_type="gpt-17"))


def test_context_overflow_and_clamp(manager):
    manager.load_llm("phi-4-reasoning")  # 4096 positions, about one token per character
    with pytest.raises(ContextLengthError) as err:
        manager.generate(GenerateOptions(prompt="la " * 3000, max_length=4, temperature=0))
    assert err.value.http_status == 422 and err.value.details["context_length"] == 4096
    near = manager.generate(GenerateOptions(prompt="x" * 4070, max_length=100, temperature=0))
    assert near["prompt_tokens"] + near["tokens_generated"] <= 4096
    # said, not done quietly (a stranger's 300 became 41 with no word)
    assert near["warnings"] == [f"max_length 100 was lowered to {4096 - near['prompt_tokens']} new tokens: the "
                                f"prompt takes {near['prompt_tokens']} of the model's 4096-token context"]
    assert manager.generate(GenerateOptions(prompt="hello", max_length=4, temperature=0))["warnings"] == []


def test_generate_loads_default_model_and_reports_progress(manager):
    stages = []
    result = manager.generate(GenerateOptions(prompt="hello", max_length=16, temperature=0),
                              progress=lambda f, s: stages.append((f, s)))
    assert result["model"] == "phi-4-reasoning" and result["model_load_seconds"] > 0
    assert stages[-1] == (1.0, "generated") and any(s == "generating" for _, s in stages)
    # the load and the generation share one bar, forward only (each had run 0-100 %: back from "loaded" at 100 %)
    assert [f for f, _ in stages] == sorted(f for f, _ in stages), stages
    assert ("loaded" in [s for _, s in stages]) and all(f <= 0.3 for f, s in stages if s == "loaded")
    reading = [i for i, (_, s) in enumerate(stages) if s.startswith("reading the prompt (")]
    first_token = [s for _, s in stages].index("generating")
    assert reading and reading[0] < first_token  # said before the first token
    # and before each layer while the prompt is read (checkpoints inside its forward pass), never after
    assert len(reading) > 1 and reading[-1] < first_token

    def cancel(fraction, stage):
        if stage == "generating":
            raise JobCanceled("canceled")

    with pytest.raises(JobCanceled) as canceled:
        manager.generate(GenerateOptions(prompt="hello", max_length=32, temperature=0), progress=cancel)
    assert manager.current_model == "phi-4-reasoning"
    # the text written before the cancel travels with it: the first progress report comes after the first token
    first = manager.generate(GenerateOptions(prompt="hello", max_length=1, temperature=0))
    partial = canceled.value.generated
    assert partial is not None and partial["finish_reason"] == "canceled"
    assert (partial["tokens_generated"], partial["response"]) == (1, first["response"])
    assert partial["model"] == "phi-4-reasoning" and partial["prompt_tokens"] == first["prompt_tokens"]

    reads: list[str] = []

    def cancel_while_reading(fraction, stage):
        if stage.startswith("reading the prompt ("):
            reads.append(stage)
            if len(reads) == 3:  # the report before the prompt, then two layers' checkpoints: inside its forward
                raise JobCanceled("canceled")

    with pytest.raises(JobCanceled) as early:
        manager.generate(GenerateOptions(prompt="hello", max_length=32, temperature=0), progress=cancel_while_reading)
    assert early.value.generated is None  # nothing was written
    assert manager.generate(GenerateOptions(prompt="hello", max_length=1, temperature=0)) == {
        **first, "seconds": ANY, "tokens_per_second": ANY}  # and the model is as it was, no checkpoint left on it


def test_out_of_memory_on_load_leaves_nothing_resident(manager):
    manager.load_llm("phi-4-reasoning")
    previous = weakref.ref(manager.current_llm().model)

    def too_big():
        return torch.empty(2**60, dtype=torch.uint8), 2**60  # a real allocation failure

    with pytest.raises(OutOfMemoryError) as err:
        manager.acquire("huge-llm", kind="llm", loader=too_big)
    assert err.value.code == "out_of_memory"
    gc.collect()
    assert previous() is None and manager.current_model is None
    assert manager.status()["loading"] is None
    manager.load_llm("phi-4-reasoning")
    assert manager.generate(GenerateOptions(prompt="ok", max_length=2))["model"] == "phi-4-reasoning"


def test_audio_models_lru_within_budget_beside_the_llm(manager):
    manager.load_llm("phi-4-reasoning")

    def linear(n):  # n float32 weights → 4n bytes
        return lambda: (torch.nn.Linear(n, 1, bias=False), 4 * n)

    a = manager.acquire("whisper", kind="audio", loader=linear(100))
    manager.acquire("demucs", kind="audio", loader=linear(100))
    assert manager.acquire("whisper", kind="audio", loader=linear(100)) is a  # a hit, and whisper is now newest
    whisper_ref, demucs_ref = weakref.ref(a), weakref.ref(manager._audio["demucs"].obj)
    del a
    manager.acquire("musicgen", kind="audio", loader=linear(150))  # 400+400+600 > 1000: evict the LRU
    gc.collect()
    assert demucs_ref() is None and whisper_ref() is not None
    status = manager.status()
    assert [m["key"] for m in status["audio_models"]] == ["whisper", "musicgen"]
    assert status["memory"]["audio_resident_bytes"] == 1000 and status["current_model"] == "phi-4-reasoning"
    with pytest.raises(InvalidRequestError):
        manager.acquire("x", kind="video", loader=linear(1))


def test_keep_alive_unloads_idle_models(settings):
    now = [1000.0]
    manager = ModelManager({**settings, "MODEL_KEEP_ALIVE": 60.0}, clock=lambda: now[0])
    manager.load_llm("phi-4-reasoning")
    manager.acquire("whisper", kind="audio", loader=lambda: (torch.nn.Linear(4, 1), 20))
    now[0] += 30
    assert manager.expire_idle() == []
    manager.acquire("whisper", kind="audio", loader=lambda: (torch.nn.Linear(4, 1), 20))  # used again
    now[0] += 45
    assert manager.expire_idle() == ["phi-4-reasoning"]
    now[0] += 60
    assert manager.expire_idle() == ["whisper"]
    assert manager.status()["current_model"] is None
    assert ModelManager(settings).expire_idle() == []  # keep-alive 0 = never


@pytest.mark.parametrize("body, message", [
    ({}, "non-empty prompt"),
    ({"prompt": 3}, "prompt must be a string"),
    ({"prompt": "x", "max_length": 0}, "max_length"),
    ({"prompt": "x", "max_length": True}, "max_length"),
    ({"prompt": "x", "temperature": -0.1}, "temperature"),
    ({"prompt": "x", "temperature": float("nan")}, "temperature"),
    ({"prompt": "x", "top_p": 0}, "top_p"),
    ({"prompt": "x", "seed": -1}, "seed"),
    ({"messages": "hi"}, "messages must be a list"),
    ({"messages": [{"role": "bot", "content": "x"}]}, r"messages\[0\]"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}, "end with a user"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "system", "content": "y"}, {"role": "user",
                                                                                           "content": "z"}]},
     "system message"),
    ([1, 2], "JSON object"),
])
def test_options_validation(body, message):
    with pytest.raises(InvalidRequestError, match=message):
        GenerateOptions.from_request(body)


def test_options_from_request():
    options = GenerateOptions.from_request({"prompt": "Analyze", "max_new_tokens": 50, "system": "Be terse",
                                            "messages": [{"role": "user", "content": "Hi"},
                                                         {"role": "assistant", "content": "Hello"}],
                                            "temperature": 0})
    assert options.to_dict()["messages"][0] == {"role": "user", "content": "Hi"}
    assert GenerateOptions.from_request(options.to_dict()) == options  # what the worker rebuilds
    assert options.max_length == 50 and options.greedy
    assert [t["role"] for t in options.conversation()] == ["system", "user", "assistant", "user"]
    with pytest.raises(InvalidRequestError, match="unknown generate option"):
        GenerateOptions.from_request({"prompt": "x", "wait": 5})  # `wait` is the route's, not an option
    with pytest.raises(InvalidRequestError, match="valid: "):
        ModelLoadOptions.from_request({"model_type": "nope"})
