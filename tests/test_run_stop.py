"""Stopping `python run.py` while a worker is busy: every worker stops taking jobs as the stop begins.

supervisord stops one program group at a time, each fully before the next. The GPU worker's group
comes before the CPU worker's, so a stranger's stop left the CPU worker without its TERM until the GPU
worker had finished its job (or been killed at 60 s): 77-79 s to stop, and the CPU worker started four
new queued jobs meanwhile. Real processes throughout: run.py, its supervisord, valkey, workers, nginx.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from werkzeug.security import generate_password_hash

from jobs.store import JobStore
from redis_server import redis_client, start_embedded
from tests.run_served import AUTH, PASSWORD, USER, features_session, run_behind_nginx

READ_BYTES = 65536
WARM_SHUTDOWN = "worker: Warm shutdown (MainProcess)"  # Celery's line on the TERM that ends a worker's consuming
# a bound only: with every worker stopped at once the line came 0.1 s after the TERM; stopped one group after
# the other, only once the GPU worker had ended its job, whose 600 tokens take longer than this here
SHUTDOWN_LINE_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 150
ENDED = ("succeeded", "failed", "canceled")
BATCH_SECONDS = [2.0] * 3  # the CPU worker's job: still running when the stop begins, done well within 60 s
# the GPU worker's job: 600 greedy tokens of SmolLM2 ("1, 2, 3, ..."), reporting every 8, so a cancel ends it soon
LONG_GENERATION = {"prompt": "Write the numbers from 1 to 300, separated by commas.", "max_length": 600,
                   "temperature": 0, "wait": 0}


class LogFollower:
    """What a log gets from byte `offset` on, read as it is written (`tail -F`): a blocking read, no polling."""

    def __init__(self, path: Path, offset: int) -> None:
        self._tail = subprocess.Popen(["tail", "-c", f"+{offset + 1}", "-F", str(path)],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.text = b""

    def wait_for(self, line: str, timeout: float) -> bool:
        """Whether `line` is written (or was, since `offset`) within `timeout` seconds."""
        assert self._tail.stdout is not None
        deadline = time.monotonic() + timeout
        while line.encode() not in self.text:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._tail.stdout], [], [], left)[0]:
                return False
            chunk = os.read(self._tail.stdout.fileno(), READ_BYTES)
            if not chunk:
                return False
            self.text += chunk
        return True

    def close(self) -> None:
        self._tail.kill()
        self._tail.wait()


def submit_features(base: str, sid: str, body: dict) -> str:
    r = requests.post(f"{base}/process/features/{sid}", json=body, auth=AUTH, timeout=30)
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


@pytest.mark.slow
def test_a_stop_sends_every_worker_term_at_once_and_queued_jobs_stay_queued(
        tmp_path, smollm2_folder, numba_cache, capsys):
    env = {"AUTH_USERS": f"{USER}:{generate_password_hash(PASSWORD)}", "AUTH_DISABLED": "0",
           "SMOLLM2_MODEL_PATH": str(smollm2_folder), "NUMBA_CACHE_DIR": str(numba_cache)}
    with run_behind_nginx(tmp_path / "run", env) as run:
        jobs = JobStore(redis_client(run.redis_url))
        # the GPU worker busy: a long generation, past its first tokens (it loads the model meanwhile)
        r = requests.post(run.base + "/api/v2/models/generate", json=LONG_GENERATION, auth=AUTH, timeout=30)
        assert r.status_code == 202, r.text
        gpu_job = r.json()["job_id"]
        sid, names = features_session(run, tmp_path, [*BATCH_SECONDS, 1.0])
        busy = jobs.wait_until(gpu_job, lambda j: j["stage"] == "generating" or j["state"] in ENDED, timeout=120)
        assert busy is not None and busy["state"] == "running", busy
        # the CPU worker (one process) busy too, at its batch's first report, and a job queued behind it
        batch = submit_features(run.base, sid, {"files": names[:-1]})
        started = jobs.wait_until(batch, lambda j: j["state"] == "running" and j["progress"] > 0, timeout=120)
        assert started is not None and started["state"] == "running", started
        queued = submit_features(run.base, sid, {"file": names[-1]})
        cpu_log = run.layout.logs / "cpu-worker.log"
        follower = LogFollower(cpu_log, cpu_log.stat().st_size)
        try:
            assert jobs.get(queued)["state"] == "queued" and jobs.get(gpu_job)["state"] == "running"
            stop_began = time.time()
            run.proc.send_signal(signal.SIGTERM)
            # the CPU worker stops consuming while the GPU worker's job still runs (it waited for that job's end)
            assert follower.wait_for(WARM_SHUTDOWN, SHUTDOWN_LINE_TIMEOUT_SECONDS), follower.text.decode()[-2000:]
            told = time.time() - stop_began
            gpu_then = jobs.get(gpu_job)
            assert gpu_then["state"] == "running", gpu_then
        finally:
            follower.close()
            jobs.request_cancel(gpu_job)  # proven: the rest of the generation would only cost the test time
        code = run.proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        stopped = time.time() - stop_began
    assert code == 0, run.output()[-3000:]
    with capsys.disabled():
        print(f"\n  stop with both workers busy: the CPU worker's warm shutdown {told:.1f} s after run.py's TERM, "
              f"run.py exited after {stopped:.1f} s")
    # the stop's records, read from the run's own valkey data (append-only file) once everything has stopped
    server = start_embedded(run.data)
    try:
        after = JobStore(redis_client(f"redis://127.0.0.1:{server.port}/0"))
        assert after.get(batch)["state"] == "succeeded"  # the running job was finished, not cut
        left = after.get(queued)
        assert left["state"] == "queued" and not left.get("started_at") and not left.get("attempts"), left
    finally:
        server.stop()
