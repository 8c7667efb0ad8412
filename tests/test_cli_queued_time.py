"""The time a job waited in the queue, in the command line's line for its end (real CLI subprocess, real HTTP, real
Celery worker and valkey).

A stranger's `ma analyze ... --wait` printed "lyrics succeeded (3.7 s)" after 9 minutes behind an LLM job on the GPU
queue: the running time only. The line now adds the wait (created_at to started_at of the job's record) when it is
noticeable. The job here is a real record left unpublished (tests/conftest.py `queued_record`) whose created_at is
set 9 min 2 s back, as a job that waited that long has it; the CLI follows it queued, then the test publishes it.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from datetime import datetime

import pytest
import redis as redis_lib
from music_analyzer_client.ui import span_text

from jobs import keys
from jobs.types import JOB_TYPES
from tests.audio_synth import sine, write
from tests.conftest import USER, queued_record
from tests.test_api_sessions import upload
from tests.test_cli import CLI, cli_env

WAITED_SECONDS = 9 * 60 + 2


@pytest.fixture()
def env(server, celery_worker, tmp_path) -> dict[str, str]:
    return cli_env(server, tmp_path)


def test_a_jobs_wait_in_the_queue_is_shown_beside_its_running_time(app, client, session_id, env, tmp_path,
                                                                    settings, redis_url):
    from jobs.submit import publish

    # a tone of its own: results are cached per owner by the audio's content (jobs/cache.py)
    name = "queued-tone.wav"
    upload(client, session_id, write(tmp_path / name, sine(300 + uuid.uuid4().int % 400, 1.3)))
    job = queued_record(app, owner=USER, job_type="features", session_id=session_id, queue=settings["CPU_QUEUE"],
                        task=JOB_TYPES["features"].task, params={"files": [name], "batch": False, "options": {}})
    job_id = job["job_id"]
    redis_lib.Redis.from_url(redis_url).hset(keys.job(job_id), "created_at", time.time() - WAITED_SECONDS)
    proc = subprocess.Popen([*CLI, "jobs", "--watch", "--session", session_id], env=env, cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the CLI follows the job: its first line says it is queued
        assert first.strip() == f"features {job_id[:8]}: queued", first
        with app.app_context():
            publish(JOB_TYPES["features"].task, job_id, settings["CPU_QUEUE"])
        stdout, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest
    record = client.get(f"/jobs/{job_id}").json()
    assert record["state"] == "succeeded", record
    end = next(line for line in rest.splitlines() if line.startswith(f"features {job_id[:8]}: succeeded"))
    # the record's times, as the CLI read them: 9 min 2 s and however long the worker took to start it (another
    # test's jobs may hold the session's worker for some seconds)
    waited = (datetime.fromisoformat(record["started_at"]) - datetime.fromisoformat(record["created_at"]))
    assert WAITED_SECONDS <= waited.total_seconds() < WAITED_SECONDS + 120, record
    assert end.endswith(f"after {span_text(waited.total_seconds())} queued)") and " s, after " in end, end



def test_a_job_answered_from_the_cache_says_so_where_its_running_time_was(env, tmp_path):
    """A stranger's second analysis of the same recording (another session, or a copy under another name) ended
    "pitch: succeeded (0.0 s)": answered from the cache (`result.cached`), it read as if nothing had run."""
    tone = write(tmp_path / "cached-tone.wav", sine(300 + uuid.uuid4().int % 400, 1.3))
    (tmp_path / "cached-copy.wav").write_bytes(tone.read_bytes())
    ends = []
    for name in ("cached-tone.wav", "cached-copy.wav"):
        done = subprocess.run([*CLI, "analyze", name, "--features", "--wait"], env=env, cwd=tmp_path, text=True,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        ends.append(next(line for line in done.stderr.splitlines() if " features: succeeded" in line))
    assert "from the cache" not in ends[0] and ends[0].endswith(" s)"), ends
    assert ends[1].endswith("succeeded (answered from the cache: the same audio and options ran before)"), ends


def test_a_failed_jobs_time_comes_before_its_error(env, tmp_path):
    """A stranger's 3 ms clip ended "pitch: failed: the audio lasts 0.00 s; at least 0.1 s is needed for music
    analysis (0.0 s)": the running time after the error's words read as part of them."""
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "click.wav", (0.4 * np.sin(np.arange(67) / 3)).astype(np.float32), 22050)
    done = subprocess.run([*CLI, "analyze", "click.wav", "--pitch", "--wait"], env=env, cwd=tmp_path, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 1, done.stderr
    end = next(line for line in done.stderr.splitlines() if " pitch: failed" in line)
    assert end.startswith("click.wav pitch: failed (") and end.endswith(
        " s): the audio lasts 0.00 s; at least 0.1 s is needed for music analysis"), end
