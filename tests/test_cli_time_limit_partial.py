"""The Python client and the command line keep the text a job stopped by the server's time limit wrote.

A generation or a library answer stopped by LONGEST_JOB_SECONDS fails `time_limit_exceeded` with its text so far
as its `result` (tests/test_time_limit_partial.py). Within the request's `wait` the route answers that failure
(500, `result` and `job_id` beside `error`): the client's error had dropped both, where the same job followed after
a 202 raised with them in `details`. The command line showed a canceled generation's text but, for a time-limited
one or a library answer, the error alone. Over real HTTP, the session's real worker and SmolLM2, with the limits,
prompts and fixtures of tests/test_time_limit_partial.py (each limit past its job's first token as measured by a
short run of the same job first, tests/first_token.py; its counting prompts run SmolLM2 far past them).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
import soundfile as sf
from music_analyzer_client import MusicAnalyzer
from music_analyzer_client.errors import EXIT_FAILED, JobFailed, MusicAnalyzerError
from music_analyzer_client.summary import summary_lines

from tests.conftest import PASSWORD, USER
from tests.test_api_library import SR, groove, run
from tests.test_api_sessions import upload
from tests.test_cli import CLI, cli_env
from tests.test_time_limit_partial import (
    ASK_LIMIT,
    GENERATE_ROUTE,
    GENERATION_LIMIT,
    LONG,
    analysis_stopped_by_its_limit,
    limit_past_first_token,
    long_question,
    smollm2_resident,
    stopped,
)

__all__ = ["smollm2_resident"]  # the fixture, used by name
GENERATE = {"model_type": "smollm2-135m", "temperature": 0, "max_length": 4000}
MARK = "stopped by the server's time limit (LONGEST_JOB_SECONDS): partial answer; the text written before it follows"


@pytest.fixture(scope="module")
def key_label(client, audio_dir) -> str:
    """A track of the user's library measured in a key (a pitch job of a 12 s groove): a question naming that key
    goes to the model with it as the candidate."""
    session = client.post("/sessions").json()["session_id"]
    sf.write(audio_dir / "tlc-groove.wav", groove(4, 100.0, 2), SR)
    assert upload(client, session, audio_dir / "tlc-groove.wav").status_code == 201
    run(client, f"/process/pitch/{session}", {"file": "tlc-groove.wav", "include": ["key", "tempo"]})
    tracks = client.get("/library/tracks", params={"session_id": session}).json()["tracks"]
    return str(tracks[0]["key"]["label"])


@pytest.fixture()
def ma(server) -> Iterator[MusicAnalyzer]:
    with MusicAnalyzer(server, USER, PASSWORD) as m:
        yield m


def words(text: str) -> str:
    """`text` as printed, whatever the console did to its spaces (a tab expanded, a trailing space dropped)."""
    return " ".join(text.split())


def limit_generation(client, app, monkeypatch) -> float:
    """The limit of a generation of LONG (GENERATE), past its first token now (limit_past_first_token)."""
    return limit_past_first_token(client, app, monkeypatch, GENERATE_ROUTE, {"prompt": LONG, **GENERATE, "wait": 300},
                                  {"max_length": 1}, GENERATION_LIMIT)


def limit_question(client, app, monkeypatch, question: str) -> float:
    """The limit of a library question answered on SmolLM2 in 512 tokens at most, past its first token now."""
    body = {"question": question, "model_type": "smollm2-135m", "max_new_tokens": 512, "wait": 300}
    return limit_past_first_token(client, app, monkeypatch, "/library/ask", body, {"max_new_tokens": 8}, ASK_LIMIT)


def cli(server, tmp_path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *argv], env=cli_env(server, tmp_path), text=True, capture_output=True,
                          timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.usefixtures("smollm2_resident")
def test_the_client_raises_a_time_limited_generation_with_its_text_so_far_within_the_wait_or_after_it(
        ma, client, app, monkeypatch):
    """Within the wait (the route's 500) and followed after a 202 (wait 0), the error carries the job's id and its
    kept result in `details` alike; the first had neither. ~8 s."""
    limit = limit_generation(client, app, monkeypatch)
    with pytest.raises(MusicAnalyzerError) as within:
        ma.generate(LONG, wait=300, **GENERATE)
    with pytest.raises(JobFailed) as followed:
        ma.generate(LONG, wait=0, **GENERATE)
    for e in (within.value, followed.value):
        assert (e.code, e.message) == ("time_limit_exceeded", stopped(limit)["message"]), e
        kept = e.details["result"]
        assert kept["finish_reason"] == "time_limit" and kept["response"].strip(), kept
        job = client.get(f"/jobs/{e.details['job_id']}").json()
        assert job["state"] == "failed" and job["result"] == kept, job
    assert within.value.status == 500 and within.value.exit_code() == EXIT_FAILED  # the attributes it had


@pytest.mark.usefixtures("smollm2_resident")
def test_the_client_raises_a_time_limited_library_answer_with_its_text_so_far(ma, client, key_label, app,
                                                                              monkeypatch):
    """ask() within its wait: the route's 500 with the answer so far, carried as a followed job's is. ~8 s."""
    limit = limit_question(client, app, monkeypatch, long_question(key_label))
    with pytest.raises(MusicAnalyzerError) as raised:
        ma.library.ask(long_question(key_label), wait=300, model_type="smollm2-135m", max_new_tokens=512)
    e = raised.value
    assert (e.code, e.status, e.message) == ("time_limit_exceeded", 500, stopped(limit)["message"]), e
    kept = e.details["result"]
    assert kept["finish_reason"] == "time_limit" and kept["partial"] is True and kept["answer"], kept
    assert kept["warnings"][0].startswith("the answer was stopped by the server's time limit"), kept["warnings"]
    assert client.get(f"/jobs/{e.details['job_id']}").json()["result"] == kept


@pytest.mark.usefixtures("smollm2_resident")
def test_models_generate_shows_the_text_a_time_limit_stopped_marked_partial(server, client, app, monkeypatch,
                                                                           tmp_path):
    """On stdout the text so far, on stderr why it is partial, exit 1; with --json the kept result and its error.
    ~7 s (two runs)."""
    limit = limit_generation(client, app, monkeypatch)
    argv = ["models", "generate", LONG, "--model", "smollm2-135m", "--max-length", "4000", "--temperature", "0"]
    shown = cli(server, tmp_path, *argv)
    assert shown.returncode == EXIT_FAILED, shown.stderr
    assert f"generate: {MARK}" in shown.stderr and "Traceback" not in shown.stderr, shown.stderr
    job_id = shown.stderr.split("generate: job ", 1)[1].split(" ", 1)[0]
    job = client.get(f"/jobs/{job_id}").json()
    assert job["error"] == stopped(limit) and job["result"]["finish_reason"] == "time_limit", job
    assert words(shown.stdout) == words(job["result"]["response"]), shown.stdout
    emitted = cli(server, tmp_path, "--json", *argv)
    assert emitted.returncode == EXIT_FAILED, emitted.stderr
    answer = json.loads(emitted.stdout)
    assert answer["finish_reason"] == "time_limit" and answer["response"].strip(), answer
    assert answer["error"]["code"] == "time_limit_exceeded" and answer["error"]["job_id"], answer
    assert client.get(f"/jobs/{answer['error']['job_id']}").json()["result"] == {
        k: v for k, v in answer.items() if k != "error"}


@pytest.mark.usefixtures("smollm2_resident")
def test_library_ask_shows_the_answer_a_time_limit_stopped_marked_partial(server, client, key_label, app,
                                                                         monkeypatch, tmp_path):
    """The answer so far with its citations and warnings, marked, exit 1; with --json the kept result and its
    error. ~13 s (two runs)."""
    limit_question(client, app, monkeypatch, long_question(key_label))
    argv = ["library", "ask", long_question(key_label), "--model", "smollm2-135m", "--max-new-tokens", "512"]
    shown = cli(server, tmp_path, *argv)
    assert shown.returncode == EXIT_FAILED, shown.stderr
    assert f"ask: {MARK}" in shown.stderr and "Traceback" not in shown.stderr, shown.stderr
    assert "the answer was stopped by the server's time limit" in shown.stderr, shown.stderr
    job_id = shown.stderr.split("ask: job ", 1)[1].split(" ", 1)[0]
    kept = client.get(f"/jobs/{job_id}").json()["result"]
    assert kept["finish_reason"] == "time_limit" and words(shown.stdout).startswith(words(kept["answer"]))
    cited = kept["citations"][0]  # (the question's key may be another test's track's too)
    assert f"{cited['filename']} (session {cited['session_id']})" in shown.stdout, shown.stdout
    emitted = cli(server, tmp_path, "--json", *argv)
    assert emitted.returncode == EXIT_FAILED, emitted.stderr
    answer = json.loads(emitted.stdout)
    assert answer["finish_reason"] == "time_limit" and answer["partial"] is True and answer["answer"], answer
    assert answer["error"]["code"] == "time_limit_exceeded" and answer["citations"], answer


@pytest.mark.usefixtures("smollm2_resident")
def test_the_summary_of_a_time_limited_llm_analysis_shows_its_text_marked_partial(client, app, monkeypatch,
                                                                                 session_id, audio_dir):
    """analyze's summary of the job (its record as the command line follows it): the error, then the text so
    far, marked; it had shown the error alone. ~8 s."""
    final = analysis_stopped_by_its_limit(client, app, monkeypatch, session_id, audio_dir)
    lines = summary_lines(final, files=False)
    assert lines[0][0] == "error" and "time_limit_exceeded" in lines[0][1], lines
    assert lines[1] == ("partial", "stopped by the server's time limit: partial answer"), lines
    label, text = lines[2]
    assert label == "analyze" and text and " ".join(final["result"]["analysis_summary"].split()).startswith(
        text.rstrip("…")), lines
