"""One Redis database serves one data directory: run.py claims it at start (jobs/redis_claim.py,
service/redis_choice.py).

A stranger's two trials on one host, each run.py with its own DATA_DIR and REDIS_URL unset, both used the host's Redis
at the default URL: they shared the queues (a worker of one took the other's job and stopped, data_dir_mismatch), and
their job records, session indexes and /metrics counts mixed. Real valkey servers of each test's own, real Celery
worker processes; run.py itself in tests/test_run_redis_claim.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from config import EX_CONFIG
from jobs import keys, redis_claim
from redis_server import redis_client, start_embedded
from service import redis_choice
from storage import SessionRoot
from tests.audio_synth import sine, write
from tests.conftest import Client, serving
from tests.test_resilience import start_worker_process, stop_all


def url_of(server) -> str:
    return f"redis://127.0.0.1:{server.port}/0"


def folder(tmp_path: Path, name: str) -> tuple[Path, str]:
    """A data directory and its own name (.data-dir-id)."""
    path = (tmp_path / name).resolve()
    path.mkdir(parents=True, exist_ok=True)
    identity = SessionRoot(path).identity()
    assert identity
    return path, identity


def test_run_py_refuses_a_given_redis_url_of_another_data_directory_and_names_both(private_redis, tmp_path):
    url = url_of(private_redis)
    first, first_id = folder(tmp_path, "first")
    second, _ = folder(tmp_path, "second")
    given = {"REDIS_URL": url, "REDIS_URL_GIVEN": True}
    assert redis_choice.choose(given, first) == redis_choice.RedisChoice(url, None)
    redis_client(url).set("ma:job:of-the-first", "kept")  # stands for the first service's data
    with pytest.raises(redis_choice.RedisClaimed) as refused:
        redis_choice.choose({"REDIS_URL": url, "REDIS_URL_GIVEN": True}, second)
    said = str(refused.value)
    assert str(first) in said and str(second) in said, said
    # a database of the same server that is empty now, and the other ways out
    assert f"REDIS_URL=redis://127.0.0.1:{private_redis.port}/1 (empty now)" in said, said
    assert "leave REDIS_URL unset" in said and "--take-over-redis" in said, said
    held = redis_claim.read(redis_client(url))
    assert held is not None and held.data_dir_id == first_id and held.path == str(first)
    assert redis_client(url).get("ma:job:of-the-first") == b"kept"
    # the same data directory passes, at every start
    assert redis_choice.choose({"REDIS_URL": url, "REDIS_URL_GIVEN": True}, first).embedded_port is None


def test_with_redis_url_unset_the_second_data_directory_runs_an_embedded_server_of_its_own_for_good(
        private_redis, tmp_path):
    """Nobody chose the host's Redis: it merely answered at the default URL. The choice stays with the data
    directory, where its jobs are, even once the default database is free again."""
    url = url_of(private_redis)
    first, _ = folder(tmp_path, "first")
    second, second_id = folder(tmp_path, "second")
    unset = {"REDIS_URL": url, "REDIS_URL_GIVEN": False}
    assert redis_choice.choose(unset, first).embedded_port is None
    own = redis_choice.choose(unset, second)
    assert own.embedded_port is not None and own.url == f"redis://127.0.0.1:{own.embedded_port}/0" != url
    assert own.note is not None and str(first) in own.note and "embedded server of its own" in own.note
    redis_client(url).delete(keys.DATA_DIR_CLAIM)  # the first one's database is free again
    again = redis_choice.choose(unset, second)
    assert again.embedded_port is not None and again.url != url
    held = redis_claim.read(redis_client(url))
    assert held is None or held.data_dir_id != second_id  # the second never took the default database
    # REDIS_URL given is the user's choice: it wins over the kept one
    assert redis_choice.choose({**unset, "REDIS_URL_GIVEN": True}, second) == redis_choice.RedisChoice(url, None)


def test_the_own_server_keeps_its_port_across_starts_while_it_is_free(private_redis, tmp_path):
    """An extra worker of this host names the own server's port in its REDIS_URL (run.py's banner gave it): a new
    port at every start had cut it off at each restart of run.py. A port taken meanwhile gives way to a new one,
    kept from then on."""
    url = url_of(private_redis)
    folder(tmp_path, "first")
    redis_choice.choose({"REDIS_URL": url, "REDIS_URL_GIVEN": False}, tmp_path / "first")
    second, _ = folder(tmp_path, "second")
    unset = {"REDIS_URL": url, "REDIS_URL_GIVEN": False}
    own = redis_choice.choose(unset, second)
    assert own.embedded_port is not None
    server = start_embedded(tmp_path / "valkey-own", port=own.embedded_port)  # run.py's valkey, then stopped
    server.stop()
    assert redis_choice.choose(unset, second) == redis_choice.RedisChoice(own.url, own.embedded_port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:  # another program took it meanwhile
        taken.bind(("127.0.0.1", own.embedded_port))
        taken.listen()
        moved = redis_choice.choose(unset, second)
    assert moved.embedded_port not in (None, own.embedded_port), moved
    assert redis_choice.choose(unset, second).embedded_port == moved.embedded_port


def test_a_claim_whose_data_directory_is_gone_is_taken_over(private_redis, tmp_path):
    url = url_of(private_redis)
    first, first_id = folder(tmp_path, "first")
    second, second_id = folder(tmp_path, "second")
    given = {"REDIS_URL": url, "REDIS_URL_GIVEN": True}
    redis_choice.choose(given, first)
    shutil.rmtree(first)  # a trial's folder removed: nothing of it will start on this database again
    taken = redis_choice.choose(given, second)
    assert taken.embedded_port is None and taken.note is not None and str(first) in taken.note, taken
    held = redis_claim.read(redis_client(url))
    assert held is not None and held.data_dir_id == second_id != first_id


def worker(settings: dict, url: str, data: Path, name: str, queue: str) -> subprocess.Popen:
    env = {**os.environ, "REDIS_URL": url, "DATA_DIR": str(data), "AUTH_USERS": settings["AUTH_USERS"],
           "HEARTBEAT_SECONDS": "0.5", "CPU_QUEUE": queue, "GPU_QUEUE": f"{queue}-gpu"}
    env.pop(redis_claim.CLAIM_ENV, None)
    return start_worker_process(env, queue, name, loglevel="INFO", log=data.parent / f"{name}.log")


@pytest.mark.slow
def test_workers_of_the_claiming_data_directory_serve_others_are_refused_and_a_stray_job_fails(
        settings, private_redis, tmp_path):
    """The README's scale-out worker of the same data directory serves; one of another data directory stops at start
    (exit 78) before taking a job; and a job left queued by the data directory that held the database before it was
    taken over fails `data_dir_left` instead of stopping each worker that takes it."""
    from app import create_app

    url = url_of(private_redis)
    queue = f"cpu-claim-{uuid.uuid4().hex[:8]}"
    old, old_id = folder(tmp_path, "old")
    new, _ = folder(tmp_path, "new")
    assert redis_claim.claim(redis_client(url), data_dir_id=old_id, path=old) is None  # as its run.py did
    app = create_app({**settings, "REDIS_URL": url, "DATA_DIR": str(old), "CPU_QUEUE": queue,
                      "GPU_QUEUE": f"{queue}-gpu"})
    with serving(app) as base:
        client = Client(base)
        sid = client.post("/sessions").json()["session_id"]
        with open(write(tmp_path / "tone.wav", sine(330.0, 0.5)), "rb") as fh:
            assert client.post(f"/sessions/{sid}/files", files={"file": fh}).status_code == 201
        made = client.post(f"/process/features/{sid}", json={"file": "tone.wav", "picture": False}).json()
        assert made["state"] == "queued", made
        # the old data directory's service is done with; the new one takes the database over (run.py
        # --take-over-redis), the old one's job still queued there
        other, _ = redis_claim.claim_for_run(redis_client(url), data_dir_id=SessionRoot(new).identity() or "",
                                             path=new, take_over=True)
        assert other is None
        refused = worker(settings, url, old, "cpu-old@elsewhere", queue)
        served = worker(settings, url, new, "cpu-2@here", queue)
        try:
            assert refused.wait(timeout=120) == EX_CONFIG
            said = (tmp_path / "cpu-old@elsewhere.log").read_text()
            assert "worker not started" in said and str(new) in said and str(old) in said, said
            job = app.extensions["music_analyzer"].jobs.wait_for_state(made["job_id"], ("succeeded", "failed"),
                                                                      timeout=120)
            assert job["state"] == "failed" and job["error"]["code"] == "data_dir_left", job
            assert served.poll() is None, (tmp_path / "cpu-2@here.log").read_text()
        finally:
            stop_all([refused, served])
