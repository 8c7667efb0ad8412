"""Users take turns on a shared queue, and one user's backlog is capped (jobs/fairness.py).

Each test runs an app of its own on queues of its own (the session's worker never sees them), over real Redis,
with a real Celery worker process where jobs must run.
"""

from __future__ import annotations

import base64
import json
import os
import uuid

import pytest
import redis as redis_lib

from jobs import keys
from tests.audio_synth import sine, write
from tests.conftest import OTHER, OTHER_PASSWORD, PASSWORD, USER
from tests.contract import assert_answer
from tests.test_resilience import start_worker_process, stop_all


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


A, B = basic(USER, PASSWORD), basic(OTHER, OTHER_PASSWORD)


def session_with_tone(c, auth: dict, tmp_path, name: str) -> str:
    sid = c.post("/sessions", headers=auth).get_json()["session_id"]
    path = write(tmp_path / name, sine(330, 0.5))
    with open(path, "rb") as fh:
        assert c.post(f"/sessions/{sid}/files", data={"file": (fh, name)}, headers=auth).status_code == 201
    return sid


def features(c, auth: dict, sid: str, name: str):
    # (no job is answered from a cached result: none had run when they were submitted)
    return c.post(f"/process/features/{sid}", json={"file": name, "picture": False}, headers=auth)


def test_a_users_backlog_is_capped_and_other_users_still_queue(own_queues, tmp_path):
    from werkzeug.test import Client as WClient

    from api.openapi.build import spec_for
    from app import create_app

    app = create_app({**own_queues, "MAX_ACTIVE_JOBS_PER_USER": 2})
    c, jobs = WClient(app), app.extensions["music_analyzer"].jobs
    sid, other_sid = session_with_tone(c, A, tmp_path, "a.wav"), session_with_tone(c, B, tmp_path, "b.wav")
    first, second = (features(c, A, sid, "a.wav") for _ in range(2))
    assert first.status_code == 202 and second.status_code == 202
    refused = features(c, A, sid, "a.wav")
    body = refused.get_json()
    assert refused.status_code == 429 and body["error"]["code"] == "too_many_jobs", body
    assert refused.headers["Retry-After"] == "60" and "MAX_ACTIVE_JOBS_PER_USER" in body["error"]["message"]
    assert_answer(spec_for(app), "POST", "/process/features/{session_id}", 429, body)
    assert len(jobs.active_jobs(owner=USER, session_id=sid)) == 2  # nothing recorded for the refused one
    assert features(c, B, other_sid, "b.wav").status_code == 202  # another user's room is their own
    # a probe is not capped: it asks whether the queue is served (none serves these: not ok, after its wait)
    probe = c.post("/jobs/probe", json={"queue": "cpu", "wait": 0.2}, headers=A)
    assert probe.get_json()["ok"] is False, probe.get_json()
    # an ended job makes room at once
    assert c.delete(f"/jobs/{first.get_json()['job_id']}", headers=A).status_code in (200, 202)
    third = features(c, A, sid, "a.wav")
    assert third.status_code == 202
    assert features(c, A, sid, "a.wav").status_code == 429
    # a record that vanished without ending (expired, or its process died before leaving the index) is pruned
    jobs.r.delete(keys.job(second.get_json()["job_id"]))
    assert features(c, A, sid, "a.wav").status_code == 202


@pytest.mark.slow
def test_a_second_user_is_not_queued_behind_the_first_users_backlog(own_queues, tmp_path):
    """A stranger's single job waited behind every job another user had queued before it (first come, first
    served): now each user's first waiting job comes before anyone's second."""
    from werkzeug.test import Client as WClient

    from app import create_app

    app = create_app(own_queues)
    c, jobs = WClient(app), app.extensions["music_analyzer"].jobs
    sid, other_sid = session_with_tone(c, A, tmp_path, "a.wav"), session_with_tone(c, B, tmp_path, "b.wav")
    mine = [features(c, A, sid, "a.wav").get_json()["job_id"] for _ in range(4)]
    theirs = [features(c, B, other_sid, "b.wav").get_json()["job_id"] for _ in range(2)]
    env = {**os.environ, "REDIS_URL": own_queues["REDIS_URL"], "DATA_DIR": own_queues["DATA_DIR"],
           "AUTH_USERS": own_queues["AUTH_USERS"], "HEARTBEAT_SECONDS": "0.5",
           "GPU_QUEUE": own_queues["GPU_QUEUE"], "CPU_QUEUE": own_queues["CPU_QUEUE"]}
    worker = start_worker_process(env, own_queues["CPU_QUEUE"], f"fair-{uuid.uuid4().hex[:6]}@test")
    try:
        ended = {job_id: jobs.wait_for_state(job_id, ("succeeded", "failed", "canceled"), timeout=120)
                 for job_id in mine + theirs}
    finally:
        stop_all([worker])
    assert all(job["state"] == "succeeded" for job in ended.values()), ended
    order = sorted(ended, key=lambda job_id: ended[job_id]["started_at"])
    # first come, first served would run all of the first user's four, then the second user's two
    assert order == [mine[0], theirs[0], mine[1], theirs[1], mine[2], mine[3]], order
    client = redis_lib.Redis.from_url(own_queues["REDIS_URL"])
    assert client.zcard(keys.owner_active(USER, own_queues["CPU_QUEUE"])) == 0  # ended jobs leave the index


def test_the_command_line_reports_a_full_backlog_as_a_refused_request(own_queues, tmp_path):
    """429 too_many_jobs is not a login problem: exit 1 with the server's message (the CLI had read every 429 as
    refused credentials, exit 3)."""
    import subprocess

    from app import create_app
    from tests.conftest import serving
    from tests.test_cli import CLI, cli_env

    app = create_app({**own_queues, "MAX_ACTIVE_JOBS_PER_USER": 1})
    # a tone no other test analyses: a cached result (the same owner's, any test's) would finish a job at once and
    # leave room under the limit (a full run failed so once another test had analysed sine(330, 0.5))
    hz = 200.0 + uuid.uuid4().int % 4000 / 10
    for name in ("one.wav", "two.wav", "three.wav"):
        write(tmp_path / name, sine(hz, 0.5))
    with serving(app) as url:
        done = subprocess.run([*CLI, "analyze", "one.wav", "two.wav", "--features"], env=cli_env(url, tmp_path),
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
        listed = subprocess.run([*CLI, "--json", "analyze", "three.wav", "--features"],
                                env=cli_env(url, tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "MAX_ACTIVE_JOBS_PER_USER" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "log in" not in done.stderr
    # the run goes on: the job it started is reported with its session, the refused file with its error
    # (it had ended on the error alone, naming neither the session nor the job left queued)
    assert "one.wav" in done.stdout and "job " in done.stdout and "music-analyzer jobs" in done.stderr, done.stdout
    assert listed.returncode == 1, listed.stderr
    report = json.loads(listed.stdout)
    [three] = report["files"]
    assert report["session_id"] and three["upload"]["name"] == "three.wav" and three["jobs"] == []
    assert three["error"]["code"] == "too_many_jobs" and three["error"]["status"] == 429
