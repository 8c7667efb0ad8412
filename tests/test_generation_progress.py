"""A text generation's progress says how far it is: the tokens written of its max_new_tokens budget, the rate
measured and the time the rest of the budget takes ("up to": the model may end sooner), and while a long prompt
is read, the layers read. A stranger's 8 s clip analysed by SmolLM2 on a CPU ran 4.5 minutes with "generating"
and a share alone. The worker's meter with a tiny random model (the real generate path), the reporter on a real
Redis, then a SmolLM2 generate job over real HTTP with the real worker, its record, events and the CLI's spinner."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import torch

from config import MODEL_REGISTRY, load_settings
from jobs import keys
from jobs.store import JobStore
from models import ModelManager
from redis_server import redis_client
from tests.contract import assert_shape
from tests.sse import open_stream
from tests.test_cli import cli_env, ma, on_a_terminal
from tests.tiny_llms import build_tiny_phi3
from worker.llm.options import GenerateOptions

COUNTING = "Write the numbers from 1 to 300, separated by commas."  # greedy SmolLM2: its whole budget


@pytest.fixture(scope="module")
def tiny_manager(tmp_path_factory):
    torch.set_num_threads(1)
    models_dir = tmp_path_factory.mktemp("models")
    build_tiny_phi3(models_dir / MODEL_REGISTRY["phi-4-reasoning"]["repo_id"])
    manager = ModelManager(load_settings({"MODELS_DIR": str(models_dir), "TORCH_NUM_THREADS": "1",
                                          "DEFAULT_MODEL": "phi-4-reasoning"}, dotenv=False))
    yield manager
    manager.unload_all()


def test_the_reports_of_a_generation_carry_its_tokens_rate_and_time_left(tiny_manager):
    from worker.progress import current_detail

    seen: list[tuple[str, dict | None]] = []
    result = tiny_manager.generate(GenerateOptions(prompt="hello there", max_length=40, temperature=0),
                                   progress=lambda fraction, stage: seen.append((stage, current_detail())))
    reading = [d for s, d in seen if s.startswith("reading the prompt (")]
    generating = [d for s, d in seen if s == "generating"]
    assert reading and generating and result["finish_reason"] == "length", seen
    # while the prompt is read: before each layer, the layers read so far of all of them
    assert all(d is not None and d["phase"] == "prompt" and d["tokens_generated"] == 0 for d in reading), reading
    assert reading[0]["layers"] > 0 and [d["layers_read"] for d in reading] == sorted(d["layers_read"] for d in reading)
    assert all(d["prompt_tokens"] == result["prompt_tokens"] for d in reading + generating)  # type: ignore[index]
    tokens = [d["tokens_generated"] for d in generating]  # type: ignore[index]
    assert tokens[0] == 1 and tokens == sorted(tokens) and tokens[-1] == 40, tokens
    for d in generating:
        assert d is not None and d["phase"] == "generating" and d["max_new_tokens"] == 40
    last = generating[-1]
    assert last is not None and last["tokens_per_second"] > 0 and last["seconds_left"] == 0.0
    middle = next(d for d in generating if d and d["tokens_per_second"] and d["tokens_generated"] < 40)
    # the rest of the budget at the measured rate (both rounded to a tenth)
    assert middle["seconds_left"] == pytest.approx((40 - middle["tokens_generated"]) / middle["tokens_per_second"],
                                                   rel=0.1, abs=0.2)
    assert seen[-1] == ("generated", None)  # the generation over, no detail


def test_the_record_keeps_the_generation_while_it_runs_and_clears_it_after(private_redis):
    from worker.progress import detail_from

    store = JobStore(redis_client(f"redis://127.0.0.1:{private_redis.port}/0"))
    job_id = store.create(owner="tester", job_type="generate", session_id=None, queue="gpu",
                          task="music_analyzer.llm_generate")["job_id"]
    assert store.start(job_id, worker="gpu@test", max_attempts=2) == "run"
    report = store.reporter(job_id)
    tokens = [0]
    with detail_from(lambda: {"phase": "generating", "tokens_generated": tokens[0], "max_new_tokens": 5000}):
        for tokens[0] in range(1, 101):  # a token each, the share unmoved as a whole percent: one write, not 100
            report(0.5, "generating")
        assert store.get(job_id)["generation"]["tokens_generated"] == 1
    report(0.99, "generated")
    logged = [json.loads(fields[b"data"]) for _, fields in store.r.xrange(keys.event_log(job_id))
              if fields[b"kind"] == b"progress"]
    assert [(e["stage"], (e.get("generation") or {}).get("tokens_generated")) for e in logged] == [
        ("generating", 1), ("generated", None)]
    assert "generation" not in store.get(job_id)


def generation_events(client, job_id: str) -> list[dict]:
    """The job's progress events until one has a generation rate (its second report's), from its first on."""
    seen: list[dict] = []
    with open_stream(client.base, job_id, client.s.auth, "1-0") as events:
        while (event := events.next()) is not None and event.event != "done":
            if event.event == "progress":
                seen.append(event.json())
                if (seen[-1].get("generation") or {}).get("tokens_per_second"):
                    return seen
    raise AssertionError(f"job {job_id} ended without a generation rate: {seen}")


def test_a_generate_job_shows_its_tokens_rate_and_time_left(client, server, smollm2_folder, tmp_path):
    r = client.post("/api/v2/models/generate", json={"prompt": COUNTING, "max_length": 600, "temperature": 0,
                                                     "model_type": "smollm2-135m", "wait": 0})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    try:
        seen = generation_events(client, job_id)
        running = client.get(f"/jobs/{job_id}").json()  # 600 tokens take SmolLM2 ~30-50 s: still running
        listed = ma(cli_env(server, tmp_path), "jobs", "--type", "generate", "--limit", "1")
    finally:
        client.delete(f"/jobs/{job_id}")
    reading = [e for e in seen if e["stage"].startswith("reading the prompt (")]
    assert reading and reading[0]["generation"]["phase"] == "prompt", seen
    detail = seen[-1]["generation"]
    assert detail["phase"] == "generating" and detail["max_new_tokens"] == 600 and detail["tokens_generated"] >= 2
    assert detail["seconds_left"] > 0 and detail["prompt_tokens"] == reading[0]["generation"]["prompt_tokens"]
    assert running["state"] == "running" and running["generation"]["tokens_generated"] >= detail["tokens_generated"]
    assert_shape("Job", running)
    # `ma jobs` says it in its stage column
    assert re.search(rf"{job_id}.* running .*generating \d+/600 tokens, [\d.]+ tok/s, up to .* left", listed.stdout), \
        listed.stdout
    final = client.wait_job(job_id, timeout=300)
    assert final["state"] == "canceled" and "generation" not in final  # over: nothing left to tell


def test_the_cli_spinner_says_the_tokens_rate_and_time_left(server, celery_worker, smollm2_folder, tmp_path):
    code, screen, stdout = on_a_terminal(["models", "generate", COUNTING, "--max-length", "40", "--temperature", "0",
                                          "--model", "smollm2-135m"], cli_env(server, tmp_path))
    assert code == 0, screen
    said = re.findall(r"generating (\d+)/40 tokens, ([\d.]+) tok/s, up to (\d+) s left", screen)
    assert said and all(0 < int(n) <= 40 and float(rate) > 0 for n, rate, _ in said), screen
    assert stdout.startswith("1")


@pytest.mark.needs_espeak
def test_analyze_llm_bars_say_the_tokens_rate_and_time_left(server, celery_worker, smollm2_folder, tmp_path):
    """The stranger's case: `analyze --llm analyze` of a spoken clip with SmolLM2, its bar on a terminal."""
    clip = tmp_path / "spoken-progress.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(clip), "The lighthouse keeper counts the ships at night."],
                   check=True)
    code, screen, _ = on_a_terminal(["analyze", str(clip), "--llm", "analyze", "--llm-max-tokens", "24", "--wait"],
                                    cli_env(server, tmp_path))
    assert code == 0, screen
    assert re.search(r"running · generating \d+/24 tokens, [\d.]+ tok/s, up to \d+ s left", screen), screen


def test_a_pass_of_several_is_said_before_its_tokens():
    """A long recording's analysis (a generation per chunk, then the merge): the bars say which pass the tokens and
    time left are of (tests/test_gemma3n_audio.py has the worker say it)."""
    from music_analyzer_client.ui import status_text

    detail = {"phase": "generating", "prompt_tokens": 900, "tokens_generated": 120, "max_new_tokens": 512,
              "tokens_per_second": 14.2, "seconds_left": 27.6, "seconds": 9.0, "pass": 2, "passes": 4}
    assert status_text({"state": "running", "stage": "generating", "generation": detail}) == (
        "running · pass 2/4: generating 120/512 tokens, 14 tok/s, up to 28 s left")
