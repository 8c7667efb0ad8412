"""When a queued job starts, from its queue's work ahead shared among its workers; and a stuck job's time left is
none (jobs/estimates.py).

Real HTTP to an app on queues of its own that no worker consumes (its jobs stay queued, their Celery messages in the
session's valkey), the real store, registry and durations. The queue's worker is the registry's heartbeat record of
a worker of two pool processes, with no process behind it: what is tested is the arithmetic over the broker's lists,
which a real worker would empty. A stuck job is a real record whose times are set in the past.
"""

from __future__ import annotations

import time

import redis as redis_lib

from api.openapi.build import spec_for
from jobs import keys
from jobs.estimates import Durations, expected, start_in
from jobs.record import public_view
from jobs.store import JobStore
from jobs.workers import WorkerRegistry
from redis_server import redis_client
from tests.conftest import Client, serving
from tests.contract import assert_answer
from tests.test_fair_queue import A, session_with_tone

TONE_SECONDS = 0.5  # tests/test_fair_queue.py session_with_tone
RUN_SECONDS = 4.0  # the finished features job of that length the history holds


def test_a_queued_jobs_start_is_the_work_ahead_of_it_shared_among_its_queues_workers(own_queues, tmp_path):
    from app import create_app

    app = create_app(own_queues)
    spec = spec_for(app)
    r = redis_lib.Redis.from_url(own_queues["REDIS_URL"])
    r.delete(keys.durations("features:"))
    Durations(r).note({"type": "features", "eta_kind": "features:", "audio_seconds": TONE_SECONDS}, RUN_SECONDS)
    registry = WorkerRegistry(r)
    worker = f"eta-two@test#{time.monotonic_ns()}"
    with app.test_client() as wc:
        sid = session_with_tone(wc, A, tmp_path, "a.wav")
    with serving(app) as base:
        c = Client(base)
        jobs = [c.post(f"/process/features/{sid}", json={"file": "a.wav", "picture": False}).json() for _ in range(5)]
        # no live worker on the queue: when they start is not known, nor when they end
        assert [j["eta"] for j in jobs] == [{"seconds_left": None, "starts_in": None, "basis": None}] * 5

        registry.beat(worker, queues=[own_queues["CPU_QUEUE"]], concurrency=2)
        try:
            listed = {j["job_id"]: j for j in c.get("/jobs", params={"session_id": sid}).json()["jobs"]}
            # two free processes take the first two at once, then each 4 s run ahead is shared between them
            starts = [listed[j["job_id"]]["eta"]["starts_in"] for j in jobs]
            assert [listed[j["job_id"]]["jobs_ahead"] for j in jobs] == [0, 1, 2, 3, 4]
            assert starts == [0.0, 2.0, 4.0, 6.0, 8.0], starts
            assert [listed[j["job_id"]]["eta"]["seconds_left"] for j in jobs] == [s + RUN_SECONDS for s in starts]
            view = c.get(f"/jobs/{jobs[-1]['job_id']}").json()
            assert view["eta"] == {"seconds_left": 12.0, "starts_in": 8.0, "basis": "queue"}, view
            assert_answer(spec, "GET", "/jobs/{job_id}", 200, view)
            # a kind nothing finished of: the jobs behind one of it have no basis, those before it still have
            r.delete(keys.durations("features:"))
            view = c.get(f"/jobs/{jobs[0]['job_id']}").json()
            assert view["eta"] == {"seconds_left": None, "starts_in": 0.0, "basis": "queue"}, view
            assert c.get(f"/jobs/{jobs[1]['job_id']}").json()["eta"]["starts_in"] is None
        finally:
            registry.remove(worker)


def test_a_job_that_reports_nothing_for_long_has_no_time_left(private_redis):
    store = JobStore(redis_client(f"redis://127.0.0.1:{private_redis.port}/0"))
    job_id = store.create(owner="tester", job_type="features", session_id="s", queue="cpu",
                          task="music_analyzer.features", audio_seconds=60.0)["job_id"]
    assert store.start(job_id, worker="cpu@test", max_attempts=2) == "run"
    assert store.progress(job_id, 0.25, "features")
    now = time.time()
    # 100 s into its run, a quarter done, its last report 5 s ago: about three times what it ran is left
    store.r.hset(keys.job(job_id), mapping={"started_at": now - 100, "progress_at": now - 5})
    eta = public_view(store.get(job_id))["eta"]
    assert eta["basis"] == "progress" and 299 <= eta["seconds_left"] <= 301, eta
    # its last report 90 s ago, after 10 s of run: silent longer than a minute and than all its run before it
    store.r.hset(keys.job(job_id), "progress_at", now - 90)
    assert public_view(store.get(job_id))["eta"] == {"seconds_left": None, "basis": None}
    # its next report: the rate since it started again
    assert store.progress(job_id, 0.5, "features")
    assert public_view(store.get(job_id))["eta"]["seconds_left"] >= 99


def test_the_arithmetic_of_an_expected_run_and_a_start():
    # the nearest finished runs by length, scaled to this one; none of the kind: none
    history = [(60.0, 6.0), (600.0, 30.0), (1200.0, 50.0)]
    assert expected(history, 600.0) == 27.5  # the median of the two within 4x, each scaled to 600 s: 30, 25
    assert expected(history, 100.0) == 10.0  # 60 s and 600 s are within 4x of it: 10 and 5, the median
    # a history of voice lines (1-3 s, a quarter second each: mostly the job's fixed cost) says nothing of a
    # 3-minute track, where scaling them had said ~15-25 s for a run of ~4 s
    voice_lines = [(1.0 + 0.1 * i, 0.25) for i in range(20)]
    assert expected(voice_lines, 180.0) is None and expected(voice_lines, 2.0) == 0.2
    assert expected([], 60.0) is None and expected([(0.0, 3.0), (0.0, 5.0)], 0.0) == 4.0
    # workers busy 10 s and 0 s: 4 s of work ahead goes to the free one; 20 s fills both to 15 s
    assert start_in([10.0, 0.0], 4.0) == 4.0 and start_in([10.0, 0.0], 20.0) == 15.0
    assert start_in([0.0], 0.0) == 0.0
