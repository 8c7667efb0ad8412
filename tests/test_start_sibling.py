"""A second delivery of a job's message reaching another pool child of the worker whose child runs the job.

Every pool child of a prefork worker carries the worker's name, and a running job whose record named this same worker
was taken for a killed child's job (the worker lives on; the job comes back to a new child) and run again. A live
sibling child running it (jobs/unacked.py puts back the message of a child still waiting to start; a sibling takes it,
and both start) ran it twice. The record now says which process started the attempt (`process`, "<pid>:<token>"):
a live sibling's job is left to it ('elsewhere'); a dead child's runs again. The losing delivery's listing had also
replaced the winner's in the worker's job->process hash (the watchdog's handle), then taken it off.

Real parts: a private valkey, real processes (the "sibling": a child of this test process that waits on its stdin;
each delivery: a forked child of this process, so a sibling of it, as pool children are of their worker), the real
JobStore and, for the listing, the real runner.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import time
import traceback
from collections.abc import Callable

import pytest

from jobs import keys
from jobs.processes import own_handle
from jobs.store import JobStore
from redis_server import redis_client
from tests.prefork_job import a_child
from tests.test_resilience import submit_features, worker_setup, write_uploads

WORKER = "cpu@sibling-test#1.abc"


@pytest.fixture
def store(private_redis) -> JobStore:
    return JobStore(redis_client(f"redis://127.0.0.1:{private_redis.port}/0"))


def in_a_forked_child(call: Callable[[], str]) -> str:
    """`call()` in a forked child of this process (a sibling of its other children, as one pool child is of another);
    its answer."""
    ctx = multiprocessing.get_context("fork")
    answers = ctx.Queue()

    def run() -> None:
        try:
            answers.put(("ok", call()))
        except BaseException:  # the test's failure, with the child's traceback
            answers.put(("error", traceback.format_exc()))

    child = ctx.Process(target=run)
    child.start()
    try:
        kind, answer = answers.get(timeout=120)
    finally:
        child.join(timeout=60)
    assert kind == "ok", answer
    return answer


def started_by(store: JobStore, sibling: subprocess.Popen) -> str:
    """A queued job, started by `sibling` for WORKER (its record names it); its id."""
    job_id = store.create(owner="tester", job_type="features", session_id=None, queue="cpu", task="t")["job_id"]
    assert store.start(job_id, worker=WORKER, max_attempts=3, process=f"{sibling.pid}:tok.1") == "run"
    return job_id


def another_delivery(store: JobStore, job_id: str) -> Callable[[], str]:
    return lambda: store.start(job_id, worker=WORKER, max_attempts=3, process=own_handle())


def test_a_delivery_to_a_sibling_of_the_live_child_running_the_job_leaves_it_alone(store):
    with a_child() as sibling:
        job_id = started_by(store, sibling)
        before = store.get(job_id)
        assert in_a_forked_child(another_delivery(store, job_id)) == "elsewhere"
        assert store.get(job_id) == before  # the sibling's attempt, as it started it


@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_a_killed_childs_job_runs_again_in_a_sibling(store, reaped):
    """The killed pool child's case, as before: its job runs again (a killed child not yet reaped by its worker is a
    zombie, dead all the same)."""
    with a_child() as sibling:
        job_id = started_by(store, sibling)
        sibling.kill()
        if reaped:
            sibling.wait()
        else:  # waits for its end, leaving it unreaped
            os.waitid(os.P_PID, sibling.pid, os.WEXITED | os.WNOWAIT)
        assert in_a_forked_child(another_delivery(store, job_id)) == "run"
        job = store.get(job_id)
        assert (job["state"], job["attempts"], job["worker"]) == ("running", 2, WORKER), job
        assert job["process"] != f"{sibling.pid}:tok.1", job


def test_a_live_sibling_newer_than_the_attempt_has_only_reused_its_pid(store):
    """The pid the record names belongs to a live sibling created after the attempt started: the child that started
    it died and its pid went to another (pids wrap around): the job runs again."""
    with a_child() as sibling:
        job_id = started_by(store, sibling)
        store.r.hset(keys.job(job_id), "started_at", time.time() - 60)  # the attempt began a minute ago
        assert in_a_forked_child(another_delivery(store, job_id)) == "run"
        assert store.get(job_id)["attempts"] == 2


def test_a_thread_of_a_threads_pool_running_the_job_is_told_from_a_gone_one(store):
    """`--pool threads`: one process, a job per thread. Another live thread's job is left to it; once that thread has
    ended without ending its job, the job runs again."""
    import threading

    started, finish = threading.Event(), threading.Event()
    handle: list[str] = []

    def runs_the_job() -> None:
        handle.append(own_handle())
        started.set()
        finish.wait(timeout=120)

    thread = threading.Thread(target=runs_the_job)
    thread.start()
    try:
        assert started.wait(timeout=60)
        job_id = store.create(owner="tester", job_type="features", session_id=None, queue="cpu", task="t")["job_id"]
        assert store.start(job_id, worker=WORKER, max_attempts=3, process=handle[0]) == "run"
        assert store.start(job_id, worker=WORKER, max_attempts=3, process=own_handle()) == "elsewhere"
    finally:
        finish.set()
        thread.join(timeout=60)
    assert store.start(job_id, worker=WORKER, max_attempts=3, process=own_handle()) == "run"
    assert store.get(job_id)["attempts"] == 2


def test_a_losing_delivery_leaves_the_winners_listing(settings, private_redis, tmp_path):
    """The runner lists a delivery as the worker's job before it starts it (the watchdog's handle): a losing delivery's
    listing replaced the live sibling's, then took it off. Now the listing names the sibling that runs the job."""
    _, app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    svc = app.extensions["music_analyzer"]
    job_id = submit_features(app, files=write_uploads(app, files=1, seconds=0.5), batch=False)
    with a_child() as sibling:
        winner = f"{sibling.pid}:tok.1"
        svc.workers.set_current(WORKER, job_id, pid=sibling.pid, process="tok.1")  # as its runner did, then started
        assert svc.jobs.start(job_id, worker=WORKER, max_attempts=2, process=winner) == "run"
        before = svc.jobs.get(job_id)

        def deliver() -> str:
            from jobs.runner import run_job

            with app.app_context():
                return run_job(job_id, "features", worker=WORKER)

        assert in_a_forked_child(deliver) == "elsewhere"
        assert svc.jobs.get(job_id) == before
        assert svc.workers.current(WORKER) == [job_id]
        assert svc.redis.hget(keys.worker_job_pids(WORKER), job_id).decode() == winner
        assert svc.workers.job_pid(WORKER, job_id) == sibling.pid


@pytest.mark.slow
def test_a_prefork_workers_second_delivery_of_a_running_job_leaves_it_to_the_child_running_it(settings, private_redis,
                                                                                                 tmp_path):
    """A real prefork worker of two pool children: the job's message delivered again while one child runs it (as
    jobs/unacked.py's restore does) reaches the other, which leaves it: the job runs once, one attempt (the old start
    ran it again in the second child: two attempts, both children on it)."""
    from jobs.submit import publish
    from tests.prefork_job import job_in_a_pool_child

    with job_in_a_pool_child(settings, private_redis.port, tmp_path, name="prefork2@test", files=6, seconds=15.0,
                             progress=0.1) as run:
        with run.app.app_context():
            publish("music_analyzer.features", run.job_id, settings["CPU_QUEUE"])  # the second delivery
        job = run.svc.jobs.wait(run.job_id, timeout=240)
        assert (job["state"], job["attempts"]) == ("succeeded", 1), job
        assert int(job["process"].split(":", 1)[0]) == run.child
        assert f"job {run.job_id} not run: elsewhere" in run.log.read_text(), run.log.read_text()[-3000:]
