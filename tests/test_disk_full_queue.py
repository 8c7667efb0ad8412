"""The job queue on a full disk: valkey refuses writes (MISCONF) while the data disk is full; a Celery worker
outlives it and takes jobs again once space returns, and a job that was running records its failure then.
Real valkey processes on a real tmpfs filled to the last byte (root only), as in tests/test_disk_full.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
import redis
import requests

from tests.audio_synth import sine, write
from tests.conftest import ADMIN, ADMIN_PASSWORD, USER, serving
from tests.small_disk import files_under, fill, valkey_on_a_small_disk
from tests.test_disk_full import ROOT, assert_disk_full_answer, start_app


def valkey_refuses_writes(url: str, token: str) -> bool:
    """Whether the valkey at `url` now refuses a write because its append-only file cannot grow."""
    try:
        with redis.Redis.from_url(url) as client:
            client.set(f"probe-{token}", "x" * 100_000)
    except redis.RedisError as e:
        return "AOF" in str(e)
    return False


def job_on_the_queue(settings, tmp_path, url: str, token: str, *, session: str, job_type: str):
    """(app, job id): an API app on the valkey at `url` (queues of `token`) and a queued `job_type` job on a 1 s tone
    in a new `session`, which an in-process runner then takes."""
    app = start_app(settings, tmp_path / "data", REDIS_URL=url, CPU_QUEUE=f"cpu-{token}", GPU_QUEUE=f"gpu-{token}")
    svc = app.extensions["music_analyzer"]
    store = svc.sessions.of(USER)
    store.create(session)
    write(store.uploads_dir(session) / "tone.wav", sine(440, 1.0))
    job_id = svc.jobs.create(owner=USER, job_type=job_type, session_id=session, queue=f"cpu-{token}",
                             task=f"music_analyzer.{job_type}",
                             params={"files": ["tone.wav"], "batch": False, "options": {}})["job_id"]
    return app, job_id


def pitch_job_in_a_thread(app, job_id: str, token: str):
    """(thread, outcome): an in-process runner started on the queued pitch job under `app`; `outcome` gets its end
    state, or the exception it raised (the old runner's QueueStorageFull, which left the job queued)."""
    import threading

    from jobs.runner import run_job

    outcome: list[object] = []

    def work() -> None:
        with app.app_context():
            try:
                outcome.append(run_job(job_id, "pitch", worker=f"inproc-{token}@localhost"))
            except Exception as e:
                outcome.append(e)

    runner = threading.Thread(target=work, daemon=True)
    runner.start()
    return runner, outcome


@pytest.mark.slow
def test_a_worker_outlives_valkey_refusing_writes_on_a_full_disk(settings, tmp_path):
    """valkey's files on a full tmpfs: it answers MISCONF to writes. The API says 507 (not 503, not 500), the
    Celery worker whose BRPOP is refused reconnects instead of exiting, and once space returns the same
    worker process runs jobs again: no restart by hand, nor by the supervisor."""
    from tests.conftest import wait_for

    token = uuid.uuid4().hex[:8]
    queues = {"CPU_QUEUE": f"cpu-misconf-{token}", "GPU_QUEUE": f"gpu-misconf-{token}"}
    with valkey_on_a_small_disk(tmp_path) as (disk, url, _):
        worker = None
        try:
            data = tmp_path / "data"
            app = start_app(settings, data, REDIS_URL=url, **queues)
            env = {**os.environ, "REDIS_URL": url, "DATA_DIR": str(data), "AUTH_USERS": settings["AUTH_USERS"],
                   "ADMIN_USERS": settings["ADMIN_USERS"], "HEARTBEAT_SECONDS": "0.5", **queues}
            log = tmp_path / "worker.log"
            with open(log, "wb") as out:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "make_celery", "worker", "--pool", "solo", "-Q",
                     queues["CPU_QUEUE"], "-n", f"misconf-{token}@localhost", "--loglevel", "INFO",
                     "--without-mingle", "--without-gossip"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                    stderr=out)
            with serving(app) as base:
                def probe() -> requests.Response:
                    # an admin's probe: the answer names the worker's pid (null for other users)
                    return requests.post(f"{base}/jobs/probe", json={"queue": "cpu", "wait": 60},
                                         auth=(ADMIN, ADMIN_PASSWORD), timeout=90)

                before = probe().json()
                assert before["ok"] is True, before
                fill(disk)
                wait_for(lambda: valkey_refuses_writes(url, token), timeout=20,
                         message="valkey to refuse writes on the full disk")
                r = probe()
                assert_disk_full_answer(r, data=disk)
                assert "queue" in r.json()["error"]["message"]
                wait_for(lambda: b"QueueStorageFull" in log.read_bytes(), timeout=20,
                         message="the worker's BRPOP to be refused")
                assert worker.poll() is None, log.read_text()[-3000:]

                (disk / "filler").unlink()
                freed = time.monotonic()

                def accepted() -> dict | None:
                    r = probe()  # 507 until valkey's next retry of its AOF write succeeds
                    return r.json() if r.status_code == 200 else None

                after = wait_for(accepted, timeout=60, message="a probe job to be accepted again")
                print(f"\n  space freed under valkey: a probe job queued and run again after "
                      f"{time.monotonic() - freed:.2f} s (same worker)")
                assert after["ok"] is True and after["pid"] == before["pid"] == worker.pid, after
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)


@pytest.mark.slow
def test_a_job_running_when_valkey_fills_up_fails_insufficient_storage_once_space_returns(settings, tmp_path,
                                                                                          caplog):
    """The job queue's disk fills while a features job draws its picture (held by matplotlib's render lock):
    its next progress write is refused, the runner removes what the job wrote and waits for valkey to take the
    outcome; once space returns the job is `failed` with `insufficient_storage`, not `running` forever."""
    import logging
    import threading

    from matplotlib.figure import Figure

    from jobs.runner import run_job
    from tests.conftest import wait_for

    caplog.set_level(logging.WARNING, logger="jobs.runner")
    token = uuid.uuid4().hex[:8]
    with valkey_on_a_small_disk(tmp_path) as (disk, url, _):
        app, job_id = job_on_the_queue(settings, tmp_path, url, token, session="fills", job_type="features")
        svc = app.extensions["music_analyzer"]
        store = svc.sessions.of(USER)
        outcome: list[str] = []

        def work() -> None:
            with app.app_context():
                outcome.append(run_job(job_id, "features", worker=f"inproc-{token}@localhost"))

        runner = threading.Thread(target=work, daemon=True)

        with Figure._render_lock:
            runner.start()
            assert svc.jobs.wait_until(job_id, lambda j: j["stage"] == "picture", timeout=60)["stage"] == "picture"
            filler = fill(disk)
            wait_for(lambda: valkey_refuses_writes(url, token), timeout=20,
                     message="valkey to refuse writes on the full disk")
        wait_for(lambda: "recording the job's outcome again" in caplog.text, timeout=30,
                 message="the runner to wait for the full job queue")
        assert svc.jobs.get(job_id)["state"] == "running"
        filler.unlink()
        runner.join(timeout=60)
        assert outcome == ["failed"]
        job = svc.jobs.get(job_id)
        assert job["state"] == "failed" and job["error"]["code"] == "insufficient_storage", job
        assert files_under(store.session_dir("fills") / "results") == []


@pytest.mark.slow
@pytest.mark.parametrize("outcome_wait, tries", [(None, 1), (1.0, 3)], ids=["refused", "refused-past-the-wait"])
def test_a_job_delivered_while_valkey_refuses_writes_runs_once_space_returns(settings, tmp_path, caplog, monkeypatch,
                                                                            outcome_wait, tries):
    """A job queued just before the queue's disk filled reaches its worker while valkey refuses writes: marking it
    running is refused. The runner waits for valkey, as for an outcome, and runs the job once space returns. The
    error had left the task (Celery then acknowledged its message): the job stayed `queued` for ever, never run.
    Refused for longer than the outcome's wait (15 min, cut to 1 s here: the third try comes 1.5 s after the first),
    the runner had given up, raising out of the task, whose message Celery then acknowledged (or, refused, left for
    the visibility timeout, 4 h 10 min): nothing can queue or start a job while the disk is full, so a start waits
    for as long as it takes."""
    import logging

    import jobs.runner
    from tests.conftest import wait_for

    if outcome_wait is not None:
        monkeypatch.setattr(jobs.runner, "OUTCOME_WAIT_SECONDS", outcome_wait)
    caplog.set_level(logging.WARNING, logger="jobs.runner")
    token = uuid.uuid4().hex[:8]
    with valkey_on_a_small_disk(tmp_path) as (disk, url, _):
        app, job_id = job_on_the_queue(settings, tmp_path, url, token, session="arrives", job_type="pitch")
        svc = app.extensions["music_analyzer"]
        filler = fill(disk)
        wait_for(lambda: valkey_refuses_writes(url, token), timeout=20,
                 message="valkey to refuse writes on the full disk")
        # a fresh worker process: its client's first command checks the connection with a PING, which valkey refuses
        # with writes (so does a connection idle for 30 s)
        fresh = start_app(settings, tmp_path / "data", REDIS_URL=url, CPU_QUEUE=f"cpu-{token}",
                          GPU_QUEUE=f"gpu-{token}")
        runner, outcome = pitch_job_in_a_thread(fresh, job_id, token)
        wait_for(lambda: caplog.text.count("starting the job again") >= tries or outcome, timeout=30,
                 message="the runner to wait for the full job queue")
        assert outcome == [] and svc.jobs.get(job_id)["state"] == "queued", outcome
        filler.unlink()
        runner.join(timeout=120)
        assert outcome == ["succeeded"], outcome
        job = svc.jobs.get(job_id)
        assert job["state"] == "succeeded" and job["attempts"] == 1, job


def test_an_acknowledgement_refused_on_a_full_disk_frees_the_consumers_slot(tmp_path):
    """A message delivered before the queue's disk filled is acknowledged after: valkey refuses the write. The
    consumer's slot (prefetch 1, as the workers run) is freed all the same, so the worker takes the next message
    once space returns; it had stayed taken, and the worker, its heartbeat alive, took no job again."""
    from kombu import Connection, Consumer, Producer, Queue

    import jobs.celery_app  # noqa: F401  (installs the queue's full-disk handling, as every worker does)
    from tests.conftest import wait_for

    token = uuid.uuid4().hex[:8]
    with valkey_on_a_small_disk(tmp_path) as (disk, url, _), Connection(url) as conn:
        queue = Queue(f"acks-{token}")
        with Producer(conn) as producer:
            for n in (1, 2):
                producer.publish({"n": n}, routing_key=queue.name, declare=[queue])
        channel = conn.channel()
        channel.basic_qos(0, 1, False)
        got: list = []
        with Consumer(channel, [queue], callbacks=[lambda body, message: got.append(message)], accept=["json"]):
            conn.drain_events(timeout=10)
            assert [m.payload for m in got] == [{"n": 1}] and not channel.qos.can_consume()
            filler = fill(disk)
            wait_for(lambda: valkey_refuses_writes(url, token), timeout=20,
                     message="valkey to refuse writes on the full disk")
            try:
                got[0].ack()
            except redis.ConnectionError as e:  # the old transport's QueueStorageFull
                print(f"\n  acknowledgement raised {e!r}")
            assert channel.qos.can_consume(), "the refused acknowledgement kept the consumer's slot"
            filler.unlink()
            wait_for(lambda: not valkey_refuses_writes(url, token), timeout=20, message="valkey to take writes")
            conn.drain_events(timeout=10)
            assert [m.payload for m in got] == [{"n": 1}, {"n": 2}]


def test_reads_on_new_connections_are_served_while_valkey_refuses_writes(settings, tmp_path):
    """An API whose connections to valkey are new (or idle for the health check's 30 s) while the queue's disk is full:
    their health check's PING is refused with the writes (MISCONF). Reads are served all the same; every one of them
    had answered 507 "the job queue's disk is full" until space returned."""
    from tests.conftest import PASSWORD, wait_for

    token = uuid.uuid4().hex[:8]
    with valkey_on_a_small_disk(tmp_path) as (disk, url, _):
        queues = {"CPU_QUEUE": f"cpu-{token}", "GPU_QUEUE": f"gpu-{token}"}
        before = start_app(settings, tmp_path / "data", REDIS_URL=url, **queues)
        store = before.extensions["music_analyzer"].sessions.of(USER)
        store.create("reads")
        job_id = before.extensions["music_analyzer"].jobs.create(
            owner=USER, job_type="pitch", session_id="reads", queue=queues["CPU_QUEUE"], task="music_analyzer.pitch",
            params={"files": [], "batch": True, "options": {}})["job_id"]
        fill(disk)
        wait_for(lambda: valkey_refuses_writes(url, token), timeout=20,
                 message="valkey to refuse writes on the full disk")
        app = start_app(settings, tmp_path / "data", REDIS_URL=url, **queues)  # its connections are all new
        with serving(app) as base:
            s = requests.Session()
            s.auth = (USER, PASSWORD)
            for path in (f"/jobs/{job_id}", "/jobs", "/sessions/reads", "/sessions"):
                r = s.get(base + path)
                assert r.status_code == 200, (path, r.text)
            assert s.get(f"{base}/jobs/{job_id}").json()["state"] == "queued"
            assert requests.get(f"{base}/health", timeout=30).json()["redis"]["writable"] is False
