"""`music-analyzer batch`'s table says what an LLM analysis stopped midway kept of its text.

Of the jobs a batch runs (features, pitch, stems, Whisper, and `--llm`'s gemma_3n analysis) only the analysis keeps
text when it is stopped: failed `time_limit_exceeded` past LONGEST_JOB_SECONDS, or canceled, its `result` holds the
text so far (`partial`, `finish_reason` time_limit or canceled) and the session its partial_analysis_... files. The
table's cell had read "failed: the job ran longer than the server's limit ..." (or "canceled"), as if nothing were
kept. Now "time limit: partial text kept, N words" (status still "failed"; "canceled" for a canceled one) and the
`--json` row's job carries `kept` {finish_reason, words, files}.

Over real HTTP, the session's real workers and SmolLM2, with the limits, prompts and fixtures of
tests/test_time_limit_partial.py and tests/test_gemma3n_canceled.py. The batch follows the two analyses as a resumed
run follows the jobs a stopped run had started (tests/test_cli_batch.py): the time-limited one by its id in the
progress file (started with the counting prompt, which the CLI has no flag for: greedy, it runs far past the limit),
the canceled one by the Idempotency-Key the progress file names (its request the batch's own, the job canceled once
its first token is out: a resumed run starts a job it finds canceled by its id again, one of its own request is
the run's). ~20 s.
"""

from __future__ import annotations

import json
import uuid

import pytest

from jobs.event_log import NO_EVENT_ID
from tests.audio_synth import sine, write
from tests.sse import open_stream
from tests.test_api_sessions import upload
from tests.test_cli import ma
from tests.test_cli_batch import env
from tests.test_gemma3n_canceled import _tokens_out
from tests.test_time_limit_partial import ANALYSIS_LIMIT, LONG, limit_past_first_token, smollm2_resident, stopped

__all__ = ["env", "smollm2_resident"]  # fixtures, used by name
LLM = ["--llm", "analyze", "--llm-model", "smollm2-135m", "--llm-max-tokens", "4000"]
BATCHS = {"task": "analyze", "model_variant": "smollm2-135m", "max_new_tokens": 4000}  # the body LLM's job is sent


def words_kept(job: dict) -> int:
    result = job["result"]
    return len(result["analysis_summary"].split()) + sum(len(n["text"].split()) for n in result["chunk_notes"])


def kept_cell(why: str, job: dict) -> str:
    """The table's cell of a job that kept `words_kept` words ("1 word": the canceled one may have kept one)."""
    n = words_kept(job)
    return f"{why}: partial text kept, {n} word{'s' if n != 1 else ''}"


def canceled_midway(client, session: str, key: str) -> dict:
    """The batch's analysis of drone.wav, requested with `key`, canceled once its events say its first token is
    out (its final record)."""
    r = client.post(f"/process/gemma_3n/{session}", json={**BATCHS, "file": "drone.wav"},
                    headers={"Idempotency-Key": key})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    with open_stream(client.base, job_id, client.s.auth, NO_EVENT_ID) as events:
        while (event := events.next()) is not None and not _tokens_out(event):
            continue
    assert event is not None, client.get(f"/jobs/{job_id}").text
    assert client.delete(f"/jobs/{job_id}").status_code == 202
    final = client.wait_job(job_id, timeout=300)
    assert final["state"] == "canceled" and final["result"]["partial"] is True, final
    return final


@pytest.mark.usefixtures("smollm2_resident")
def test_a_batch_says_the_text_a_stopped_llm_analysis_kept(env, client, app, monkeypatch, tmp_path):
    folder, state_file = tmp_path / "hums", tmp_path / "batch-state.json"
    folder.mkdir()
    write(folder / "hum.wav", sine(220, 2.0))
    write(folder / "drone.wav", sine(110, 2.0))
    first = ma(env, "--json", "batch", str(folder), "--features", "--state", str(state_file))  # the files sent
    assert first.returncode == 0, first.stderr
    session = json.loads(first.stdout)["session_id"]
    key = uuid.uuid4().hex
    canceled = canceled_midway(client, session, key)
    # its limit past its first token now, measured on the same upload in a session of its own (the batch's holds
    # the jobs the batch sees alone)
    measured = client.post("/sessions").json()["session_id"]
    assert upload(client, measured, folder / "hum.wav").status_code == 201
    body = {**BATCHS, "file": "hum.wav", "temperature": 0, "prompt": LONG}
    limit = limit_past_first_token(client, app, monkeypatch, f"/process/gemma_3n/{measured}", body,
                                   {"max_new_tokens": 1}, ANALYSIS_LIMIT)
    assert client.delete(f"/sessions/{measured}").status_code == 200
    r = client.post(f"/process/gemma_3n/{session}", json=body)
    assert r.status_code == 202, r.text
    limited = client.wait_job(r.json()["job_id"], timeout=300)
    assert limited["error"] == stopped(limit) and limited["result"]["finish_reason"] == "time_limit"
    # the progress file as a run stopped right after starting one and while asking for the other leaves it
    data = json.loads(state_file.read_text())
    data["files"]["hum.wav"]["jobs"]["llm-analyze"] = {"key": None, "job_id": limited["job_id"], "state": None}
    data["files"]["drone.wav"]["jobs"]["llm-analyze"] = {"key": key, "job_id": None, "state": None}
    state_file.write_text(json.dumps(data))
    started = state_file.read_text()

    shown = ma(env, "batch", str(folder), "--resume", "--state", str(state_file), *LLM)
    assert shown.returncode == 1, shown.stderr  # a job failed: as before
    rows = {cells[0]: cells[1:] for line in shown.stdout.splitlines()
            if (cells := [c.strip() for c in line.split("│") if c.strip()])[:1] in (["hum.wav"], ["drone.wav"])}
    assert rows["hum.wav"] == ["failed", kept_cell("time limit", limited)], rows
    assert rows["drone.wav"] == ["canceled", kept_cell("canceled", canceled)], rows
    assert "1 failed, 1 canceled" in shown.stdout, shown.stdout

    state_file.write_text(started)
    emitted = ma(env, "--json", "batch", str(folder), "--resume", "--state", str(state_file), *LLM)
    assert emitted.returncode == 1, emitted.stderr
    files = {f["file"]: f for f in json.loads(emitted.stdout)["files"]}
    assert (files["hum.wav"]["status"], files["drone.wav"]["status"]) == ("failed", "canceled"), files
    for name, job in (("hum.wav", limited), ("drone.wav", canceled)):
        row = files[name]["jobs"]["llm-analyze"]
        assert (row["job_id"], row["state"]) == (job["job_id"], job["state"]), row
        assert row["kept"] == {"finish_reason": job["result"]["finish_reason"], "words": words_kept(job),
                               "files": [f"partial_analysis_smollm2-135m_analyze_{name[:-4]}.json",
                                         f"partial_analysis_smollm2-135m_analyze_{name[:-4]}.txt"]}, row
    assert files["hum.wav"]["jobs"]["llm-analyze"]["error"]["code"] == "time_limit_exceeded"  # the error kept too
    sessions_jobs = client.get("/jobs", params={"session_id": session}).json()["jobs"]
    assert len(sessions_jobs) == 4, sessions_jobs  # two features, the two analyses: the batch started none
