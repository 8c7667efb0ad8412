"""`--webhook` on the commands that start jobs, and `health`'s table of workers: the CLI as a real subprocess against
the live test service (real HTTP server, real Celery worker whose sender threads deliver, real valkey), the webhook
received by a real HTTP server on 127.0.0.1 (the tests' WEBHOOK_ALLOWED_HOSTS)."""

from __future__ import annotations

import json
import os
import re
import uuid

import numpy as np
import pytest
import soundfile as sf
from music_analyzer_client import verify_webhook

from tests.test_api_contract import Receiver
from tests.test_cli import cli_env, ma


@pytest.fixture()
def env(server, celery_worker, tmp_path) -> dict[str, str]:
    return cli_env(server, tmp_path)


def unique_wav(path):
    """Noise no other test analyses: a result cached from another run's bytes would answer the job at once."""
    rng = np.random.default_rng(uuid.uuid4().int % 2**32)
    sf.write(path, (0.1 * rng.standard_normal(22050)).astype(np.float32), 22050)
    return path


def delivered(receiver: Receiver, job_id: str, event: str) -> list[dict]:
    """The receiver's deliveries once `event` of the job has arrived (waits on its condition, no polling)."""
    def arrived(ds: list[dict]) -> bool:
        return any(json.loads(d["body"])["type"] == event and json.loads(d["body"])["data"]["job_id"] == job_id
                   for d in ds)
    return receiver.wait(arrived)


def test_analyze_webhook_is_delivered_signed_with_the_events_asked(env, tmp_path):
    """`analyze` could not ask for a webhook, which every job-creating request takes: the job's start and end
    (progress left out by --webhook-events) reach the receiver, signed with the user's own key."""
    unique_wav(tmp_path / "hook.wav")
    receiver = Receiver()
    try:
        done = ma(env, "--json", "analyze", "hook.wav", "--features", "--wait", "--webhook", receiver.url,
                  "--webhook-events", "start,completed", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        (job,) = json.loads(done.stdout)["files"][0]["jobs"]
        assert job["state"] == "succeeded"
        deliveries = delivered(receiver, job["job_id"], "job.completed")
    finally:
        receiver.close()
    mine = [d for d in deliveries if json.loads(d["body"])["data"]["job_id"] == job["job_id"]]
    assert [json.loads(d["body"])["type"] for d in mine] == ["job.start", "job.completed"]
    assert json.loads(mine[-1]["body"])["data"]["state"] == "succeeded"
    secret = ma(env, "webhook-secret").stdout.strip()
    assert all(verify_webhook(secret, d["headers"], d["body"]) for d in mine)


def test_a_refused_webhook_is_the_servers_error_and_leaves_nothing(env, tmp_path, client):
    """A URL the server refuses (a host WEBHOOK_ALLOWED_HOSTS does not allow) is its 400, shown as every API error
    (message, code, request id; exit 2), and the run leaves no session; events without a URL, or events that do
    not exist, are refused before any request."""
    unique_wav(tmp_path / "no.wav")
    refused = ma(env, "analyze", "no.wav", "--features", "--webhook", "http://10.0.0.5/hook", cwd=tmp_path)
    assert refused.returncode == 2 and "webhook_not_allowed" in refused.stderr, refused.stderr
    assert "request " in refused.stderr and "Traceback" not in refused.stderr
    # asked of the server (POST /webhooks/check) before a session was made: none was (tests/test_webhook_check.py)
    assert not re.search(r"session ([0-9a-f]{16})", refused.stderr), refused.stderr

    alone = ma(env, "analyze", "no.wav", "--webhook-events", "completed", cwd=tmp_path)
    assert alone.returncode == 2 and "need a webhook URL" in alone.stderr and "session" not in alone.stderr
    wrong = ma(env, "analyze", "no.wav", "--webhook", "http://127.0.0.1:9/x", "--webhook-events", "finished",
               cwd=tmp_path)
    assert wrong.returncode == 2 and "finished: not webhook events" in wrong.stderr, wrong.stderr


def test_library_reindex_takes_a_webhook_too(env, client):
    """The other job-creating commands pass --webhook through the client's methods (here `library reindex`)."""
    receiver = Receiver()
    try:
        done = ma(env, "--json", "library", "reindex", "--webhook", receiver.url, "--webhook-events", "completed")
        assert done.returncode == 0, done.stderr
        job_id = json.loads(done.stdout)["job_id"]
        deliveries = delivered(receiver, job_id, "job.completed")
    finally:
        receiver.close()
    (body,) = [json.loads(d["body"]) for d in deliveries if json.loads(d["body"])["data"]["job_id"] == job_id]
    assert body["data"]["type"] == "library_reindex"


def test_health_shows_each_worker_with_credentials(env, app, worker_name):
    """`health` printed only how many workers were alive; with credentials it lists each one (name, state, queues,
    pid, warm-up, running jobs) after the summary lines scripts read, which stay first and unchanged."""
    done = ma(env, "health")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith(": ok") or lines[0].endswith(": degraded"), lines
    assert lines[1].startswith("  redis     ") and lines[2].startswith("  workers   ") and "alive" in lines[2]
    (row,) = [line for line in lines if worker_name in line]
    cells = [c.strip() for c in row.split("│")]
    assert cells[0] == worker_name, row  # its node name; the record's own adds the pid, a column of its own
    assert cells[1] == "alive" and cells[3] == str(os.getpid()), row  # the solo worker runs in this process
    assert app.config["CPU_QUEUE"] in cells[2] and app.config["GPU_QUEUE"] in cells[2], row
    assert cells[5] == "-"  # NUMBA_WARMUP=0 in the tests: no warm-up to show
    assert "worker" in done.stdout and "warm-up" in done.stdout

    anonymous = ma({k: v for k, v in env.items() if k != "MA_PASSWORD"}, "health")
    assert anonymous.returncode == 0 and worker_name not in anonymous.stdout
    assert "with credentials" in anonymous.stderr
    raw = json.loads(ma(env, "--json", "health").stdout)  # the raw body, as it was
    assert any(w["node"] == worker_name for w in raw["workers"])


def test_a_workers_row_says_its_warm_up_jobs_and_silence():
    """The row's cells from the full view's worker record (as /health gives it): a CPU worker warming up, running
    two jobs, and one past its heartbeats."""
    from music_analyzer_client.health_table import worker_row

    busy = {"node": "cpu-1@host", "name": "cpu-1@host#4242.ab12cd", "pid": 4242, "queues": ["cpu"],
            "started_at": 1000.0, "alive": True, "heartbeat_age_seconds": 0.4, "current_jobs": ["j1", "j2"],
            "numba_warmup": {"state": "done", "seconds": 13.24}}
    assert worker_row(busy, now=1000.0 + 2 * 3600 + 5 * 60) == ["cpu-1@host", "alive", "cpu", "4242", "2 h 5 min",
                                                               "done (13.2 s)", "2: j1 j2"]
    silent = {"name": "gpu@host#1.x", "pid": 1, "queues": ["gpu", "cpu"], "started_at": 2000.0, "alive": False,
              "heartbeat_age_seconds": 7.0, "current_jobs": [], "numba_warmup": {"state": "running", "seconds": None}}
    # a clock behind the worker's reads 0 s up, never a negative time
    assert worker_row(silent, now=1990.0) == ["gpu@host#1.x", "silent 7 s", "gpu, cpu", "1", "0 s", "running",
                                              "idle"]


def test_a_batch_stops_at_a_refused_webhook(env, tmp_path):
    """`batch --webhook URL` the server refuses: every file would be uploaded and its job refused the same way; the
    batch stops at the first refusal (exit 2, said once), as it does when the server is lost."""
    folder = tmp_path / "album"
    folder.mkdir()
    for name in ("a.wav", "b.wav", "c.wav"):
        unique_wav(folder / name)
    done = ma(env, "batch", str(folder), "--features", "--jobs", "1", "--webhook", "http://10.0.0.5/hook")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("webhook_not_allowed") == 1, done.stderr
