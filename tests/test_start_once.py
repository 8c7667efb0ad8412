"""Two deliveries of one job's message start it once.

Celery may deliver a message twice (a redelivery after a lost connection, the visibility timeout), and two workers
can take the copies in the same milliseconds. `JobStore.start` read the record, checked it in Python, counted the
attempt, then moved the job to running: both deliveries passed the checks and both ran the job (the second's move,
running -> running, overwrote the first's worker). The move now succeeds only on the record the start read; the
other delivery gets 'elsewhere' and writes nothing. Real Redis (a private valkey), real JobStore.
"""

from __future__ import annotations

import threading

import pytest

from jobs.store import JobStore
from redis_server import redis_client


@pytest.fixture
def store(private_redis) -> JobStore:
    return JobStore(redis_client(f"redis://127.0.0.1:{private_redis.port}/0"))


def new_job(store: JobStore) -> str:
    return store.create(owner="tester", job_type="features", session_id=None, queue="cpu", task="t")["job_id"]


@pytest.mark.parametrize("b_worker", ["b@host#1.b", "a@host#1.a"], ids=["another-worker", "same-worker"])
def test_a_start_between_anothers_read_and_move_wins_alone(store, b_worker):
    """A redelivered job whose worker died: delivery A reads the record (running on the dead worker) and asks whether
    that worker lives; meanwhile delivery B starts the job and reports progress. A then answers 'elsewhere' and
    leaves B's start as it was: B's worker, B's start time and progress, the attempt counted once. `same-worker`: B
    is a pool child of A's own worker (the same name: the record cannot tell them apart, the attempts count can)."""
    job_id = new_job(store)
    assert store.start(job_id, worker="dead@host#1.a", max_attempts=3) == "run"
    seen: dict = {}

    def dead_but_b_starts_meanwhile(name: str) -> bool:
        # called by A's start after its read, before its move: the interleaving of two deliveries, run in order
        if not seen:
            seen["b"] = store.start(job_id, worker=b_worker, max_attempts=3, is_alive=lambda n: n == b_worker)
            assert store.progress(job_id, 0.4, "analysing")
            seen["after_b"] = store.get(job_id)
        return name == b_worker

    a = store.start(job_id, worker="a@host#1.a", max_attempts=3, is_alive=dead_but_b_starts_meanwhile)
    assert seen["b"] == "run"
    assert a == "elsewhere"
    job = store.get(job_id)
    assert job["worker"] == b_worker and job["attempts"] == 2
    assert (job["started_at"], job["progress"], job["stage"]) == (
        seen["after_b"]["started_at"], 0.4, "analysing"), job


def test_concurrent_deliveries_of_a_queued_job_run_it_once(store):
    """Eight deliveries to eight live workers released at once by a barrier, twenty jobs: each job runs exactly once,
    its record names the winner and counts one attempt (the old start ran most of these jobs several times)."""
    threads_per_job = 8
    for _ in range(20):
        job_id = new_job(store)
        barrier = threading.Barrier(threads_per_job)
        answers: dict[str, str] = {}

        def deliver(i: int, job_id: str = job_id, barrier: threading.Barrier = barrier,
                    answers: dict[str, str] = answers) -> None:
            worker = f"w{i}@host#1.x"
            barrier.wait()
            answers[f"{worker}/{i}"] = store.start(job_id, worker=worker, max_attempts=3, is_alive=lambda n: True)

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(threads_per_job)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [k for k, v in answers.items() if v == "run"]
        assert len(winners) == 1, answers
        assert sorted(answers.values()) == ["elsewhere"] * (threads_per_job - 1) + ["run"], answers
        job = store.get(job_id)
        assert job["state"] == "running" and job["attempts"] == 1, job
        assert job["worker"] == winners[0].split("/")[0], (job, winners)


def test_a_job_requeued_between_read_and_move_is_read_again_and_started(store):
    """Recovery requeues the job (its worker died) between delivery A's read and its move: the record moved but no
    other start counted an attempt, so A reads it again and starts it (guards the read-again branch of the change)."""
    job_id = new_job(store)
    assert store.start(job_id, worker="dead@host#1.a", max_attempts=3) == "run"

    def dead_and_requeued_meanwhile(name: str) -> bool:
        assert store.requeue(job_id)  # what recovery does for a dead worker's job (then it publishes the message)
        return False

    assert store.start(job_id, worker="a@host#1.a", max_attempts=3, is_alive=dead_and_requeued_meanwhile) == "run"
    job = store.get(job_id)
    assert (job["state"], job["worker"], job["attempts"], job["stage"]) == ("running", "a@host#1.a", 2, "starting")
