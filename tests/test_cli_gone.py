"""The CLI following a job whose record the server lost says why, with the job as it was listed.

A stranger's day two: their Redis (which kept nothing on disk) restarted while `music-analyzer jobs --watch` and
`analyze --wait` followed jobs. The records were gone; the watch's table read "None  -  unknown" for each job and the
analyze summary "state unknown", the reason (404, no such job) in no output. Real server, worker and CLI process.
"""

from __future__ import annotations

import subprocess
import uuid

from jobs import keys
from jobs.types import JOB_TYPES
from tests.conftest import USER, queued_record
from tests.test_cli import CLI, cli_env


def test_a_watched_job_whose_record_is_gone_is_shown_as_listed_with_why(server, celery_worker, app, client, tmp_path):
    env = cli_env(server, tmp_path)
    session = "cli-gone-" + uuid.uuid4().hex[:6]
    assert client.post("/sessions", json={"session_id": session}).status_code == 201
    # a job nobody consumes stays queued while the CLI follows it; then its record goes, as an emptied Redis loses it
    job = queued_record(app, owner=USER, job_type="features", session_id=session, queue="nobody-" + session,
                        task=JOB_TYPES["features"].task, params={"files": [], "batch": True, "options": {}})
    job_id = job["job_id"]
    watch = subprocess.Popen([*CLI, "jobs", "--watch", "--session", session], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stderr is not None
        seen = watch.stderr.readline()  # its first line names the job it follows (no terminal: one line a change)
        assert job_id[:8] in seen, seen
        redis = app.extensions["music_analyzer"].redis
        redis.delete(keys.job(job_id), keys.event_log(job_id))
        out, err = watch.communicate(timeout=120)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 1, (out, err)
    assert "Traceback" not in err, err
    row = next(line for line in out.splitlines() if job_id in line)
    assert "features" in row and session in row and "unknown" in row and "None" not in row, out
    assert "could not follow" in out, out
