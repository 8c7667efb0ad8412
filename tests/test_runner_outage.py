"""The job runner's own bookkeeping across a Redis outage and after a runner that never ended its job, with a real
Redis (a private valkey the test stops and starts) and the real features work run in this process.

A stranger restarted Redis while a fresh pool process was starting a job: the runner's reads failed on its error
path, the exception left the runner, Celery acknowledged the message, and the job stayed `running` with its live
worker listing it, so nothing recovered it; hours later the watchdog killed that pool process, by then running
another user's job."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

import numpy as np
import soundfile as sf

from jobs import keys
from jobs.overdue import stop_overdue
from jobs.runner import _run_started, process_token, run_job
from redis_server import start_embedded
from tests.conftest import USER
from tests.test_resilience import submit_features, worker_setup, write_uploads

WORKER = "cpu@outage-test#1.abc"


class Heard(logging.Handler):
    """Sets `event` when a record containing `words` is logged (the runner waiting for Redis): no polling."""

    def __init__(self, words: str):
        super().__init__(logging.WARNING)
        self.words, self.event = words, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.event.set()


def test_a_job_whose_redis_goes_away_as_it_starts_ends_once_redis_is_back(settings, private_redis, tmp_path):
    _, app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    svc = app.extensions["music_analyzer"]
    job_id = submit_features(app, files=write_uploads(app, files=1, seconds=1.0), batch=False)
    assert svc.jobs.start(job_id, worker=WORKER, max_attempts=2) == "run"
    port = private_redis.port
    private_redis.stop()  # gone between the start and everything the runner does after it
    heard = Heard("Redis is not reachable")
    logging.getLogger("jobs.runner").addHandler(heard)
    outcome: list[str] = []

    def run() -> None:
        with app.app_context():
            outcome.append(_run_started(svc, job_id, "features", worker=WORKER))

    runner = threading.Thread(target=run, daemon=True)
    server = None
    try:
        runner.start()
        assert heard.event.wait(timeout=60), "the runner did not wait for Redis"
        server = start_embedded(tmp_path / "valkey", port=port)  # the same data, back on the same port
        runner.join(timeout=300)
        assert outcome == ["succeeded"]
        job = svc.jobs.get(job_id)
        assert job["state"] == "succeeded" and job["result"]["filename"] == "t0.wav", job
        assert svc.workers.current(WORKER) == []
    finally:
        logging.getLogger("jobs.runner").removeHandler(heard)
        if server is not None:
            svc.jobs.r.flushdb()
            server.stop()


def test_a_job_its_process_left_running_is_ended_when_the_process_takes_another(settings, private_redis, tmp_path):
    """The earlier job is recorded failed and taken off the worker's list, so the watchdog never kills the process
    for it (it did, while the process ran the next job)."""
    _, app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    svc = app.extensions["music_analyzer"]
    names = write_uploads(app, files=1, seconds=0.5)
    ended, left, first, taken = (submit_features(app, files=names, batch=False) for _ in range(4))
    # a job of this process that ended, whose listing alone was not cleared (Redis away then): its result stays
    assert svc.jobs.start(ended, worker=WORKER, max_attempts=2) == "run"
    svc.workers.set_current(WORKER, ended, pid=os.getpid(), process=process_token())
    result = svc.sessions.of(USER).results_dir("batch") / "features_kept.json"
    result.write_text("{}")
    svc.jobs.writes.note(ended, 1, result)
    svc.jobs.succeed(ended, {"files": [result.name]}, files=[result.name])
    with app.app_context():
        assert run_job(first, "features", worker=WORKER) == "succeeded"
    assert result.is_file() and svc.jobs.get(ended)["state"] == "succeeded"
    assert svc.jobs.start(left, worker=WORKER, max_attempts=2) == "run"
    # its runner set it current in this process and ended without recording anything (as the escaped error did)
    assert svc.workers.set_current(WORKER, left, pid=os.getpid(), process=process_token()) == []
    assert svc.workers.job_pid(WORKER, left) == os.getpid()
    # another process that had this pid is another process: its job is not this one's to end
    assert svc.workers.set_current(WORKER, "f" * 32, pid=os.getpid(), process="another") == []
    svc.workers.clear_current(WORKER, "f" * 32)
    with app.app_context():
        assert run_job(taken, "features", worker=WORKER) == "succeeded"
    record = svc.jobs.get(left)
    assert record["state"] == "failed" and record["error"]["code"] == "internal_error", record
    assert "went on to another without recording its end" in record["error"]["message"]
    assert svc.workers.current(WORKER) == []
    late = time.time() + 10 * 24 * 3600  # long past any limit: nothing of this worker's is left to stop
    assert stop_overdue(svc, WORKER, limit_seconds=3000, grace_seconds=300, now=late) == []


def test_a_redis_that_came_back_empty_leaves_no_half_record(app, client):
    """Redis restarted without its data under a running job: the job's next progress report wrote two fields
    into a fresh hash, a record without an id that GET, the event stream and DELETE answered 500 for good. A
    progress report now writes only to a running job's record, and a fragment reads as no job (404)."""
    jobs = app.extensions["music_analyzer"].jobs
    job_id = uuid.uuid4().hex
    assert jobs.progress(job_id, 0.95, "write") is False
    assert not jobs.r.exists(keys.job(job_id)) and not jobs.r.exists(keys.event_log(job_id))
    jobs.r.hset(keys.job(job_id), mapping={"progress": 0.95, "stage": "write"})  # what the older version left
    try:
        for method, path in (("GET", f"/jobs/{job_id}"), ("GET", f"/jobs/{job_id}/events"),
                             ("DELETE", f"/jobs/{job_id}"), ("GET", f"/jobs/{job_id}/webhooks")):
            r = getattr(client, method.lower())(path)
            assert r.status_code == 404 and r.json()["error"]["code"] == "job_not_found", (method, path, r.text)
        assert job_id not in {j["job_id"] for j in client.get("/jobs?limit=100").json()["jobs"]}
    finally:
        jobs.r.delete(keys.job(job_id))


def test_a_batch_stopped_by_its_time_limit_keeps_the_files_it_had_finished(settings, private_redis, tmp_path):
    """As a canceled batch does: a stranger's batch that met a full disk on file 3 of 8 had dropped the whole
    sets of files 1 and 2 ("nothing was stored"). Two short files (~0.5 s of work each), then 59 minutes of noise
    (~8 s of work) under a limit of 3 s plus four short files' work."""
    from tests.audio_synth import sine, write

    _, app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    svc = app.extensions["music_analyzer"]
    uploads = svc.sessions.of(USER).uploads_dir("batch")
    for name, hz in (("a.wav", 220.0), ("b.wav", 220.0), ("timed0.wav", 247.0), ("timed1.wav", 262.0),
                     ("timed2.wav", 277.0)):
        write(uploads / name, sine(hz, 0.5))
    rng = np.random.default_rng(7)
    with sf.SoundFile(uploads / "long.wav", "w", samplerate=16000, channels=1, subtype="PCM_16") as long:
        for _ in range(59):  # a minute at a time: the test holds no hour of audio in memory
            long.write((0.1 * rng.standard_normal(60 * 16000)).astype(np.float32))
    with app.app_context():  # the first analysis in a process compiles its kernels: not inside the timed batch
        app.config["LONGEST_JOB_SECONDS"] = 600
        assert run_job(submit_features(app, files=["a.wav"], batch=False), "features", worker=WORKER) == "succeeded"
        # a short file's work measured on this machine as loaded now (a full run beside other work once stopped the
        # batch at b.wav under a fixed 3 s): the limit leaves room for two, and the hour of noise is ~16 of them.
        # The quickest of three: one run slowed by a neighbour's burst had set a limit the whole hour fit in (a CI
        # run beside two other test runs: the batch succeeded)
        took = []
        for n in range(3):
            began = time.monotonic()
            job = submit_features(app, files=[f"timed{n}.wav"], batch=False)
            assert run_job(job, "features", worker=WORKER) == "succeeded"
            took.append(time.monotonic() - began)
        app.config["LONGEST_JOB_SECONDS"] = round(3.0 + 4 * min(took), 1)
        job_id = submit_features(app, files=["a.wav", "b.wav", "long.wav"], batch=True)
        assert run_job(job_id, "features", worker=WORKER) == "failed"
    job = svc.jobs.get(job_id)
    assert job["error"]["code"] == "time_limit_exceeded", job
    assert "the batch stopped at long.wav; the files finished before it are kept" in job["error"]["message"]
    kept = job["result"]
    assert [r["filename"] for r in kept["results"]] == ["a.wav", "b.wav"] and kept["stopped_at"] == "long.wav"
    results = svc.sessions.of(USER).results_dir("batch")
    assert sorted(p.name for p in results.iterdir() if "_timed" not in p.name) == sorted(job["files"])
    assert {f.split("_", 1)[1].rsplit(".", 1)[0] for f in job["files"]} == {"a", "b"}


def test_a_batch_that_fills_the_disk_keeps_the_files_it_had_finished(settings, private_redis, tmp_path):
    """A stranger's six-file features batch on a 30 MB disk failed `insufficient_storage` on the 6th file and kept
    nothing: the writer's raw ENOSPC passed the batch loop, which kept finished files only for the service's own
    error. Here the disk is left room for two and a half sets of results."""
    from tests.audio_synth import sine, write
    from tests.small_disk import fill, small_disk
    from tests.test_resilience import make_app

    with small_disk(tmp_path / "disk", size_mb=8) as disk:
        app = make_app(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path,
                       DATA_DIR=str(disk / "data"), MIN_FREE_DISK_MB=0)
        svc = app.extensions["music_analyzer"]
        svc.sessions.of(USER).create("batch")
        uploads, results = (svc.sessions.of(USER).session_dir("batch") / area for area in ("uploads", "results"))
        names = [f"t{i}.wav" for i in range(6)]
        for i, name in enumerate(names):
            write(uploads / name, sine(200.0 + i, 1.0, channels=2))
        with app.app_context():  # one set's size, measured (and the kernels compiled outside the batch)
            assert run_job(submit_features(app, files=["t0.wav"], batch=False), "features",
                           worker=WORKER) == "succeeded"
            one_set = sum(p.stat().st_size for p in results.iterdir())
            for p in list(results.iterdir()):
                p.unlink()
            filler = fill(disk)
            os.truncate(filler, filler.stat().st_size - int(2.5 * one_set))
            job_id = submit_features(app, files=names, batch=True)
            assert run_job(job_id, "features", worker=WORKER) == "failed"
        job = svc.jobs.get(job_id)
        assert job["error"]["code"] == "insufficient_storage", job
        assert "nothing was stored" not in job["error"]["message"] and "are kept" in job["error"]["message"]
        kept = [r["filename"] for r in job["result"]["results"]]
        assert 1 <= len(kept) < len(names) and kept == names[:len(kept)], job["result"]
        assert job["result"]["stopped_at"] == names[len(kept)]
        assert sorted(p.name for p in results.iterdir()) == sorted(job["files"])  # whole sets, no .part
        filler.unlink()


def test_a_library_rebuild_on_a_full_disk_fails_insufficient_storage(settings, private_redis, tmp_path):
    """A stranger's POST /library/reindex with 0 bytes free failed `internal_error` (its log line, on the same
    full disk, appeared only once space was freed): SQLite says a full disk as "database or disk is full", not
    ENOSPC. The library (SQLite, real) on a tmpfs that a features job's track is indexed into, then filled."""
    from jobs.submit import submit
    from library.options import ReindexOptions
    from tests.small_disk import fill, small_disk
    from tests.test_resilience import make_app

    with small_disk(tmp_path / "disk", size_mb=8) as disk:
        app = make_app(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path,
                       DATA_DIR=str(disk / "data"), MIN_FREE_DISK_MB=0)
        svc = app.extensions["music_analyzer"]
        svc.sessions.of(USER).create("batch")
        names = write_uploads(app, files=3, seconds=1.0)
        with app.app_context(), app.test_request_context():
            assert run_job(submit_features(app, files=names, batch=True), "features", worker=WORKER) == "succeeded"
            filler = fill(disk)
            job_id = submit("library_reindex", owner=USER, session_id=None, options=ReindexOptions())["job_id"]
            assert run_job(job_id, "library_reindex", worker=WORKER) == "failed"
        job = svc.jobs.get(job_id)
        assert job["error"]["code"] == "insufficient_storage", job
        assert str(disk) not in job["error"]["message"] and "sqlite" not in job["error"]["message"].lower()
        filler.unlink()
