"""Sessions and jobs from versions without owners become the admin's, once, when a new app starts."""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path

import requests

from jobs import keys
from tests.audio_synth import sine, write
from tests.conftest import ADMIN, ADMIN_PASSWORD, PASSWORD, USER, serving


def old_version_data(app, data_dir: Path, session_id: str) -> str:
    """A session folder and a finished job as versions without owners wrote them; returns the job id."""
    folder = data_dir / "sessions" / session_id
    for area in ("uploads", "results"):
        (folder / area).mkdir(parents=True)
    write(folder / "uploads" / "old.wav", sine(440, 0.5))
    (folder / "results" / "features_old.json").write_text("{}")
    job_id = uuid.uuid4().hex
    now = time.time()
    record = {"job_id": job_id, "session_id": session_id, "type": "features", "queue": "cpu",
              "task": "music_analyzer.features", "state": "succeeded", "progress": 1.0, "stage": "done",
              "created_at": now, "finished_at": now, "attempts": 1, "result": "{}",
              "files": json.dumps(["features_old.json"]),
              "params": json.dumps({"files": ["old.wav"], "batch": False, "options": {}})}
    r = app.extensions["music_analyzer"].redis
    r.hset(keys.job(job_id), mapping=record)
    r.zadd(keys.JOBS, {job_id: now})
    r.zadd(keys.session_jobs("", session_id), {job_id: now})
    return job_id


def start(settings, data_dir: Path, **overrides):
    from app import create_app

    return create_app({**settings, "DATA_DIR": str(data_dir), **overrides})


def test_owner_less_data_becomes_the_first_admins_once(settings, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    data = tmp_path / "data"
    bootstrap = start(settings, data, ADMIN_USERS="")
    sid = f"legacy-{uuid.uuid4().hex[:8]}"
    job_id = old_version_data(bootstrap, data, sid)

    # no admin: the data stays where it was, unreachable by ordinary users, and the log says so
    caplog.clear()
    no_admin = start(settings, data, ADMIN_USERS="")
    assert "no admin" in caplog.text and "ADMIN_USERS" in caplog.text
    assert (data / "sessions" / sid).is_dir()
    with serving(no_admin) as base:
        assert requests.get(f"{base}/sessions/{sid}", auth=(USER, PASSWORD), timeout=30).status_code == 404
        assert requests.get(f"{base}/jobs/{job_id}", auth=(USER, PASSWORD), timeout=30).status_code == 404

    # two admins: the first one named gets it, and the log names them
    caplog.clear()
    app = start(settings, data, ADMIN_USERS=f"{ADMIN},{USER}")
    assert f"admin {ADMIN!r}" in caplog.text and "1 owner-less session(s)" in caplog.text
    assert "1 owner-less job(s)" in caplog.text
    assert not (data / "sessions" / sid).exists()
    svc = app.extensions["music_analyzer"]
    assert svc.sessions.of(ADMIN).exists(sid)
    assert svc.jobs.get(job_id)["owner"] == ADMIN
    assert not svc.redis.exists(keys.session_jobs("", sid))
    with serving(app) as base:
        seen = requests.get(f"{base}/sessions/{sid}", auth=(ADMIN, ADMIN_PASSWORD), timeout=30).json()
        assert seen["owner"] == ADMIN and [f["name"] for f in seen["files"]] == ["old.wav"]
        assert [j["job_id"] for j in seen["jobs"]] == [job_id]
        assert requests.get(f"{base}/sessions/{sid}/files/features_old.json", auth=(ADMIN, ADMIN_PASSWORD),
                            timeout=30).status_code == 200
        assert requests.get(f"{base}/jobs/{job_id}", auth=(ADMIN, ADMIN_PASSWORD), timeout=30).json()["owner"] == ADMIN

    # once: a later start finds nothing left and changes nothing
    caplog.clear()
    again = start(settings, data, ADMIN_USERS=USER)
    assert "owner-less" not in caplog.text
    assert again.extensions["music_analyzer"].jobs.get(job_id)["owner"] == ADMIN
    assert again.extensions["music_analyzer"].sessions.of(ADMIN).exists(sid)
