"""The job queue's disk fills (valkey refusing writes, MISCONF): a job refused with 507 was not recorded (the
first write after the disk fills is still taken: a record written so had been queued by recovery and run once
space returned, under a 507 that said "nothing was queued"); reads go on; /health says degraded, not "Redis is
not reachable"; and with Redis stopped the library names Redis, not its database. Real valkey on a real tmpfs
filled to the last byte (root only), as tests/test_disk_full_queue.py."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
import requests
from kombu.exceptions import OperationalError

from api.openapi.build import spec_for
from jobs import keys
from jobs.submit import QueuedLaterError, ended_on_error
from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER, serving
from tests.contract import assert_answer
from tests.small_disk import fill, valkey_on_a_small_disk
from tests.test_cli import cli_env, ma
from tests.test_disk_full import assert_disk_full_answer, start_app
from tests.test_disk_full_queue import valkey_refuses_writes


@pytest.mark.slow
def test_a_full_queue_disk_refuses_jobs_whole_and_serves_reads(settings, tmp_path):
    from tests.conftest import wait_for

    token = uuid.uuid4().hex[:8]
    with valkey_on_a_small_disk(tmp_path) as (disk, url, valkey):
        data = tmp_path / "data"  # the sessions' disk has room: only the queue's is full
        app = start_app(settings, data, REDIS_URL=url, CPU_QUEUE=f"cpu-{token}", GPU_QUEUE=f"gpu-{token}")
        with serving(app) as base:
            s = requests.Session()
            s.auth = (USER, PASSWORD)
            sid = s.post(f"{base}/sessions").json()["session_id"]
            wav = write(tmp_path / "t.wav", sine(330, 0.5)).read_bytes()
            assert s.post(f"{base}/sessions/{sid}/files", files={"file": ("t.wav", wav)}).status_code == 201
            before = s.post(f"{base}/process/features/{sid}", json={"file": "t.wav"}).json()["job_id"]

            # what reads tidy as they go: a worker whose heartbeat expired (as a worker's does when its beats
            # are refused on a full disk), a dead worker's ended job listed as current, an expired record's id
            with redis.Redis.from_url(url) as r:
                r.sadd(keys.WORKERS, f"gone-{token}", f"live-{token}")
                r.hset(keys.worker(f"live-{token}"), mapping={"heartbeat": time.time(), "queues": "[]"})
                r.sadd(keys.worker_jobs(f"live-{token}"), f"ended{token}")
                r.zadd(keys.owner_jobs(USER), {f"expired{token}": time.time() + 100})
            fill(disk)
            # valkey takes writes until an append to its file fails (a page's slack): a job refused whole says
            # "nothing was queued" and none is listed; one recorded before the disk refused its message says
            # so with its id, and is listed queued (recovery queues it once space returns). The old answer
            # said "nothing was queued" over a job a worker then ran.
            expected, said = [before], []
            for _ in range(40):
                refused = s.post(f"{base}/process/features/{sid}", json={"file": "t.wav"})
                if refused.status_code == 202:  # queued before the disk refused its unpublished mark: true
                    expected.insert(0, refused.json()["job_id"])
                    said.append("queued")
                    continue
                assert_disk_full_answer(refused, data=disk)
                error = refused.json()["error"]
                if "nothing was queued" in error["message"]:
                    said.append("refused")
                    break
                assert "is recorded and runs once space has been freed" in error["message"], error
                expected.insert(0, error["details"]["job_id"])
                said.append("recorded")
            listed = s.get(f"{base}/jobs").json()["jobs"]
            assert [j["job_id"] for j in listed] == expected, (said, listed)
            assert {j["state"] for j in listed} == {"queued"} and said[-1] == "refused", said
            print(f"\n  the first {len(said)} requests on the full queue disk: {', '.join(said)}")
            assert valkey_refuses_writes(url, token)
            # a job whose message the queue refused, and whose end it refuses too: the error says it is recorded
            with app.app_context(), pytest.raises(QueuedLaterError) as raised:
                with ended_on_error(before, "could not enqueue the job"):
                    raise OperationalError("the broker refused the message")
            assert raised.value.http_status == 507 and raised.value.details == {"job_id": before}
            assert s.get(f"{base}/jobs/{before}").json()["state"] == "queued"

            # reads are served throughout, their tidying left for later (it had failed them with 507)
            for path in ("/jobs", f"/sessions/{sid}", f"/jobs/{before}", "/api/v2/models/status",
                         "/library/tracks", "/sessions", "/metrics"):
                assert [s.get(base + path).status_code for _ in range(4)] == [200] * 4, path
            health = requests.get(f"{base}/health", timeout=30)
            assert health.status_code == 200, health.text
            h = health.json()
            assert h["status"] == "degraded" and h["redis"]["ok"] is True and h["redis"]["writable"] is False
            assert "disk is full" in h["redis"]["error"]
            assert_answer(spec_for(app), "GET", "/health", health.status_code, h)  # as the description says
            full = s.get(f"{base}/health").json()  # the admin's view lists the workers (tidied later)
            assert [w["name"] for w in full["workers"]] == [f"live-{token}"], full["workers"]
            said = ma(cli_env(base, tmp_path), "health")
            assert said.returncode == 0 and "redis     refuses writes: the job queue's disk is full" in said.stdout

            (disk / "filler").unlink()
            wait_for(lambda: s.post(f"{base}/process/features/{sid}", json={"file": "t.wav"}).status_code == 202,
                     timeout=60, message="a job to be accepted once space returned")
            assert requests.get(f"{base}/health", timeout=30).json()["redis"] == {
                "ok": True, "latency_ms": pytest.approx(0, abs=1000)}

            valkey.terminate()
            valkey.wait(timeout=30)
            down = s.get(f"{base}/library/tracks")  # Redis's error, named as such (it had blamed the database)
            assert down.status_code == 503 and down.json()["error"]["code"] == "redis_unavailable", down.text
