"""A job's `method`: what it really ran, beside its `type` (its route's name), in the API, `ma jobs` and the page; and
a retried job's attempt in `ma jobs`, the model commands' spinner lines and the page's Jobs list.

A stranger's `ma jobs` had listed a REPET and an HPSS separation as `demucs` and an analysis by SmolLM2 as `gemma_3n`,
and a job retried after its worker was lost as any other. Real parts: the live test service (real HTTP, the real
Celery worker, valkey), the CLI as a subprocess, Debian's Chromium; a retried job is played by the job store's own
calls on queues no worker consumes (as tests/test_retry_timing.py does), its first attempt's process really dead.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from api.openapi.build import spec_for
from jobs.method import job_method
from tests.audio_synth import sine, write
from tests.browser_page import logged_in
from tests.conftest import Client, serving
from tests.contract import assert_answer, assert_shape
from tests.prefork_job import a_child
from tests.test_api_sessions import upload
from tests.test_batch_partial import beating
from tests.test_cli import CLI, cli_env, ma
from tests.test_fair_queue import A, session_with_tone


def table_rows(stdout: str) -> dict[str, list[str]]:
    """`ma jobs`' table (piped: one line a row), each row's cells by its job id."""
    return {cells[0]: cells for line in stdout.splitlines() if (cells := line.replace("│", " ").split())}


def test_jobs_name_the_method_they_ran_in_the_api_and_the_cli(app, server, celery_worker, client, session_id,
                                                              tmp_path):
    """A REPET and an HPSS separation (both `demucs` jobs) and a features job, run by the real worker."""
    # a tone of its own: results are cached per owner by the audio's content (jobs/cache.py)
    name = "method-tone.wav"
    upload(client, session_id, write(tmp_path / name, sine(200 + uuid.uuid4().int % 500, 1.0, channels=2)))
    ran = {}
    for method in ("repet", "hpss"):
        answer = client.post(f"/process/demucs/{session_id}", json={"file": name, "model": method})
        assert answer.status_code == 202 and answer.json()["method"] == method, answer.text  # its answer says it too
        ran[method] = answer.json()["job_id"]
    answer = client.post(f"/process/features/{session_id}", json={"file": name, "picture": False})
    ran["features"] = answer.json()["job_id"]
    assert answer.json()["method"] is None  # one method: its type says it
    spec = spec_for(app)
    for method, job_id in ran.items():
        job = client.wait_job(job_id, timeout=120)
        assert job["state"] == "succeeded" and job["type"] == ("features" if method == "features" else "demucs"), job
        assert job["method"] == (None if method == "features" else method), job
        assert_answer(spec, "GET", "/jobs/{job_id}", 200, job)
    listed = client.get("/jobs", params={"session_id": session_id}).json()
    assert_answer(spec, "GET", "/jobs", 200, listed)
    assert {j["job_id"]: j["method"] for j in listed["jobs"]} == {
        ran["repet"]: "repet", ran["hpss"]: "hpss", ran["features"]: None}, listed
    in_session = client.get(f"/sessions/{session_id}").json()["jobs"]
    assert {j["job_id"]: j["method"] for j in in_session} == {j["job_id"]: j["method"] for j in listed["jobs"]}

    table = ma(cli_env(server, tmp_path), "jobs", "--session", session_id)
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[0].replace("┃", " ").split()
    assert header[:4] == ["job", "type", "method", "session"], table.stdout
    rows = table_rows(table.stdout)
    assert rows[ran["repet"]][1:4] == ["demucs", "repet", session_id], table.stdout
    assert rows[ran["hpss"]][1:4] == ["demucs", "hpss", session_id], table.stdout
    assert rows[ran["features"]][1:5] == ["features", "-", session_id, "succeeded"], table.stdout  # not a retry


def test_one_rule_names_each_types_method_from_its_stored_options():
    """jobs/method.py over records as the API stores them, older shapes among them: the model or algorithm the options
    name (a Whisper size with "whisper "), the model the worker chose for `auto` once the result names it."""
    def record(job_type: str, options: dict, result=None) -> dict:
        return {"type": job_type, "params": {"files": ["a.wav"], "batch": False, "options": options}, "result": result}

    assert job_method(record("demucs", {"model": "repet"})) == "repet"
    assert job_method(record("demucs", {})) == "htdemucs"  # an older record without the option: its default
    assert job_method(record("whisper", {"model": "tiny.en"})) == "whisper tiny.en"
    assert job_method({"type": "whisper", "params": {"file": "a.wav", "options": {"model": "base"}}}) == "whisper base"
    assert job_method(record("musicgen", {"model": "musicgen-small"})) == "musicgen-small"
    assert job_method(record("gemma_3n", {"model_variant": "smollm2-135m"})) == "smollm2-135m"
    assert job_method(record("gemma_3n", {"model_variant": "auto"})) == "auto"  # not yet chosen
    chosen = {"batch": True, "results": [{"filename": "a.wav", "model": "smollm2-135m"}], "errors": []}
    assert job_method(record("gemma_3n", {"model_variant": "auto"}, chosen)) == "smollm2-135m"
    assert job_method(record("lyrics", {"model_variant": "auto"}, {"model": "phi-4-multimodal"})) == "phi-4-multimodal"
    assert job_method(record("compare", {"model_variant": "gemma-3n-E2B"})) == "gemma-3n-E2B"
    assert job_method({"type": "generate", "params": {"model_type": "smollm2-135m", "prompt": "hi"}}) == "smollm2-135m"
    assert job_method(record("generate", {"model_type": None})) is None  # the resident model: not known yet
    assert job_method(record("generate", {"model_type": None}, {"model": "smollm2-135m"})) == "smollm2-135m"
    assert job_method(record("library_ask", {"model_type": "auto"}, {"model": None})) == "auto"
    assert job_method(record("model_load", {"model_type": "gemma-3n-E4B"})) == "gemma-3n-E4B"
    for one in ("features", "pitch", "probe", "model_unload", "library_reindex"):
        assert job_method(record(one, {})) is None, one
    assert job_method({"type": "demucs"}) == "htdemucs"  # no params at all (a fragment): still no 500


@contextmanager
def playing_a_worker(app) -> Iterator[Callable[[str], None]]:
    """retry(job_id): attempt 1 starts in a process that dies, the redelivery finds it so and starts attempt 2, as a
    worker with a heartbeat (else a real worker's recovery, on the test session's valkey, fails the job whose worker
    it finds dead)."""
    svc = app.extensions["music_analyzer"]
    me = f"gpu@method-{uuid.uuid4().hex[:8]}#1.abc"
    svc.workers.beat(me)  # alive before its first start

    def retry(job_id: str) -> None:
        with a_child() as child:
            assert svc.jobs.start(job_id, worker=me, max_attempts=3, process=f"{child.pid}:tok.1") == "run"
        assert svc.jobs.start(job_id, worker=me, max_attempts=3, process=f"{os.getpid()}:tok.2") == "run"

    try:
        with beating(svc, me):  # as a real worker beats (one beat lives a few seconds: a loaded machine outlasts it)
            yield retry
    finally:
        svc.workers.remove(me)


def test_a_retried_generation_says_so_while_waiting_and_in_ma_jobs(own_queues, tmp_path):
    """`ma models generate` on a queue no worker consumes: the test plays the worker, losing attempt 1."""
    from app import create_app

    app = create_app(own_queues)
    jobs = app.extensions["music_analyzer"].jobs
    with serving(app) as base, playing_a_worker(app) as retry:
        env = cli_env(base, tmp_path)
        proc = subprocess.Popen([*CLI, "models", "generate", "Say hi."], env=env, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stderr is not None
            queued = proc.stderr.readline()
            assert "queued; Ctrl-C asks whether to cancel it" in queued, queued
            job_id = queued.split("job ", 1)[1].split(" ", 1)[0]
            retry(job_id)
            said = proc.stderr.readline()  # the line analyze's bars and lines say (the spinner had said nothing)
            assert said.strip() == "generate: worker lost, retrying (attempt 2)", said
            assert jobs.succeed(job_id, {"response": "Hi.", "model": "smollm2-135m", "tokens_generated": 2,
                                         "seconds": 0.1, "tokens_per_second": 20.0,
                                         "finish_reason": "stop"})  # a whole result: tests list every job
            stdout, rest = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0 and stdout.strip() == "Hi.", (stdout, rest)
        api = Client(base)
        job = api.get(f"/jobs/{job_id}").json()
        # no model asked (the resident one): the result names the one that ran
        assert (job["type"], job["method"], job["attempts"]) == ("generate", "smollm2-135m", 2), job
        table = ma(env, "jobs", "--type", "generate", "--limit", "1")
        assert table.returncode == 0, table.stderr
        row = table_rows(table.stdout)[job_id]
        assert row[1:5] == ["generate", "smollm2-135m", "-", "succeeded"] and row[5] == "(attempt", table.stdout
        assert "succeeded (attempt 2)" in table.stdout, table.stdout


@pytest.mark.needs_chromium
def test_the_pages_jobs_list_shows_the_method_and_a_retry(browser, own_queues, tmp_path, artifacts):
    """Queued jobs on queues no worker consumes: a REPET separation's row names it; a job retried while the page
    shows it gets "attempt 2" from its event stream, without a reload."""
    from app import create_app

    app = create_app(own_queues)
    with app.test_client() as wc:
        sid = session_with_tone(wc, A, tmp_path, "a.wav")
    with serving(app) as base, playing_a_worker(app) as retry:
        api = Client(base)
        repet = api.post(f"/process/demucs/{sid}", json={"file": "a.wav", "model": "repet"}).json()
        features = api.post(f"/process/features/{sid}", json={"file": "a.wav", "picture": False}).json()
        assert_shape("JobAccepted", repet)
        context, page, problems = logged_in(browser)
        try:
            page.goto(f"{base}/#session={sid}")
            rows = {j["job_id"]: page.locator(f"#job-list li.job[data-job='{j['job_id']}']") for j in (repet, features)}
            rows[repet["job_id"]].locator(".job-method", has_text="repet").wait_for()
            assert rows[repet["job_id"]].locator(".job-type").inner_text().startswith("Stems")
            assert rows[features["job_id"]].locator(".job-about").count() == 0  # one method, never retried
            rows[features["job_id"]].locator(".stage", has_text="a.wav · queued").wait_for()
            retry(features["job_id"])
            mark = rows[features["job_id"]].locator(".job-retry", has_text="attempt 2")
            mark.wait_for()
            assert mark.get_attribute("title") == "attempt 2: an earlier attempt was lost"
            page.locator("#job-list").screenshot(path=artifacts / "jobs-method-retry.png")
            # the user cancels it; the worker (the test) stops at its next checkpoint, as a real one does
            assert api.delete(f"/jobs/{features['job_id']}").json()["state"] == "cancel_requested"
            assert app.extensions["music_analyzer"].jobs.mark_canceled(features["job_id"], from_states=("running",))
            # the end's record (the stream's `done`) names the lost attempt
            rows[features["job_id"]].locator(".job-retry[title='attempt 2: a worker was lost during attempt 1']"
                                             ).wait_for()
            assert problems == [], problems
        finally:
            context.close()
