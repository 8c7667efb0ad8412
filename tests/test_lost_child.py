"""A pool child killed mid-job after a duplicate delivery of its message was dropped: the job runs again.

Two deliveries of one message share its unacked entry (kombu keys it by delivery tag): the losing one's acknowledgement
removed it, so the killed child's reject (task_reject_on_worker_lost) restored nothing, and the job stayed `running` on
its live worker until the watchdog failed it at LONGEST_JOB_SECONDS (4 h). The worker's main process now re-queues a
job of its own whose recorded child is dead and whose message is gone (jobs/recovery.py).

Real parts: a private valkey, real processes (children of this test process, which plays the worker's main process),
the real JobStore, WorkerRegistry and kombu channel, and a real prefork worker of two children.
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from jobs.processes import child_is_gone, own_handle
from jobs.recovery import recover_running
from tests.prefork_job import a_child, job_in_a_pool_child
from tests.test_resilience import submit_features, worker_setup, write_uploads


def test_a_child_is_gone_once_dead_a_zombie_or_its_pid_reused():
    with a_child() as child:
        handle, now = f"{child.pid}:tok.1", time.time()
        assert not child_is_gone(handle, started_at=now)  # alive: it runs the job
        assert not child_is_gone(handle, started_at=None)  # a record without a start time: alive all the same
        # alive, but created a minute after the attempt started: it only reused the pid of the child that started it
        assert child_is_gone(handle, started_at=now - 60)
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, not yet reaped: a zombie
        assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
        assert child_is_gone(handle, started_at=now)
        child.wait()
        assert child_is_gone(handle, started_at=now)  # reaped: gone
    assert child_is_gone(f"{os.getppid()}:tok.1", started_at=None)  # a live process, not a child: a reused pid
    # the main process itself (a solo or threads pool), and records of older versions: never a lost child's job
    assert not child_is_gone(own_handle(), started_at=time.time())
    assert not child_is_gone(f"{os.getpid()}:another.1", started_at=time.time())
    assert not child_is_gone(None, started_at=None) and not child_is_gone(str(os.getpid() + 1), started_at=None)


def test_recovery_requeues_a_dead_childs_job_after_a_grace_and_never_beside_its_message(settings, private_redis,
                                                                                         tmp_path):
    """The first sight of the dead child waits a pass; a message of the job in the broker (Celery's redelivery) holds
    it off; a redelivery that started it in between keeps it (a new attempt); then it is re-queued and published."""
    _, app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    svc = app.extensions["music_analyzer"]
    me = "cpu@lost-child#1.abc"
    sent: list[str] = []

    def recover(*, held: bool = False, suspects: dict) -> list[str]:
        svc.workers.beat(me, pid=os.getpid())  # this test process is the worker's main process, alive
        return recover_running(svc, me, max_attempts=3, publish=lambda job: sent.append(job["job_id"]),
                               suspects=suspects, holds_message=lambda job: held)

    job_id = svc.jobs.create(owner="tester", job_type="features", session_id=None, queue="cpu", task="t")["job_id"]
    with a_child() as child:
        assert svc.jobs.start(job_id, worker=me, max_attempts=2, process=f"{child.pid}:tok.1") == "run"
        suspects: dict[str, str] = {}
        assert recover(suspects=suspects) == []  # its child lives
    assert recover(suspects=suspects) == [] and suspects  # dead: first sight
    assert recover(held=True, suspects=suspects) == [] and suspects  # its message is back in the broker
    # a redelivery started it (a new child): a new attempt, not the one seen dead
    with a_child() as child:
        assert svc.jobs.start(job_id, worker=me, max_attempts=3, process=f"{child.pid}:tok.1") == "run"
    assert recover(suspects=suspects) == [] and sent == []
    assert recover(suspects=suspects) == [job_id] and sent == [job_id] and suspects == {}
    job = svc.jobs.get(job_id)
    assert (job["state"], job["attempts"]) == ("queued", 2), job


def test_a_requeue_on_the_record_as_read_leaves_a_job_started_since(settings, private_redis, tmp_path):
    """Between recovery's read and its re-queue, a redelivery starts the job: the re-queue writes nothing."""
    from jobs.recovery import requeue_lost

    _, app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    svc = app.extensions["music_analyzer"]
    me = "cpu@lost-child#1.abc"
    job_id = svc.jobs.create(owner="tester", job_type="features", session_id=None, queue="cpu", task="t")["job_id"]
    assert svc.jobs.start(job_id, worker=me, max_attempts=3, process="1:gone.1") == "run"
    read = svc.jobs.get(job_id)
    with a_child() as child:
        assert svc.jobs.start(job_id, worker=me, max_attempts=3, process=f"{child.pid}:tok.1") == "run"
        sent: list[dict] = []
        assert not requeue_lost(svc, read, by=me, max_attempts=3, publish=sent.append, child="1:gone.1")
        job = svc.jobs.get(job_id)
        assert (job["state"], job["attempts"], sent) == ("running", 2, []), job


def test_the_broker_holds_a_queued_message_of_the_job(settings, private_redis, tmp_path):
    from jobs.submit import publish
    from jobs.unacked import holds_message

    _, app = worker_setup(settings, f"redis://127.0.0.1:{private_redis.port}/0", tmp_path)
    job_id = submit_features(app, files=write_uploads(app, files=1, seconds=0.5), batch=False)
    with app.extensions["celery"].connection_for_write() as conn:
        assert holds_message(conn.default_channel, job_id, settings["CPU_QUEUE"])
        assert not holds_message(conn.default_channel, "0" * 32, settings["CPU_QUEUE"])
        with app.app_context():  # another job's message, behind it: still only its own
            publish("music_analyzer.features", "1" * 32, settings["CPU_QUEUE"])
        assert not holds_message(conn.default_channel, "0" * 32, settings["CPU_QUEUE"])


@pytest.mark.slow
def test_a_killed_childs_job_whose_message_a_dropped_duplicate_acknowledged_runs_again(settings, private_redis,
                                                                                       tmp_path):
    """A real prefork worker of two children: child A runs the job; its message is put back (as jobs/unacked.py's
    restore does) and child B, taking it, finds the job running on A and drops it, acknowledging the one unacked entry
    both shared. A is then killed: the job runs again, attempts 2, within a few recovery passes (before: `running`
    until the time limit, 4 h)."""
    with job_in_a_pool_child(settings, private_redis.port, tmp_path, name="lostchild@test", files=4, seconds=12.0,
                             progress=0.05) as run:
        job_id, log_file = run.job_id, run.log
        with run.app.extensions["celery"].connection_for_write() as conn:
            channel = conn.default_channel
            client, unacked = channel.client, channel.unacked_key
            client.config_set("notify-keyspace-events", "Kh")
            with client.pubsub(ignore_subscribe_messages=True) as sub:
                sub.subscribe(f"__keyspace@0__:{unacked}")  # first subscribe, then act: no event slips between
                [tag] = [t for t, m in client.hgetall(unacked).items() if job_id.encode() in m]
                channel.qos.restore_by_tag(tag.decode(), client=client, leftmost=True)  # the put-back (an hdel)
                events = until_taken_then_acknowledged(sub, timeout=60)
        assert events[-2:] == ["hset", "hdel"], (events, log_file.read_text()[-3000:])
        assert f"job {job_id} not run: elsewhere" in log_file.read_text()
        assert not [m for m in client.hvals(unacked) if job_id.encode() in m]  # the job's message is gone
        os.kill(run.child, signal.SIGKILL)
        killed = time.monotonic()
        # a recovery pass every 3 beats of 0.5 s, and a grace of one pass: well within 20 beats
        job = run.svc.jobs.wait_until(job_id, lambda j: j["attempts"] == 2, timeout=10.0)
        seconds = time.monotonic() - killed
        assert job["attempts"] == 2, (job, log_file.read_text()[-3000:])
        print(f"\n  killed pool child whose message a dropped duplicate acknowledged: re-queued after {seconds:.1f} s")
        job = run.svc.jobs.wait_for_state(job_id, ("succeeded", "failed"), timeout=240)
        assert (job["state"], job["attempts"]) == ("succeeded", 2), job
        assert f"job {job_id} re-queued: its pool child {run.child}:" in log_file.read_text()


def until_taken_then_acknowledged(sub, *, timeout: float) -> list[str]:
    """The hash commands on kombu's unacked hash, until one delivery took the message (hset) and acknowledged it
    (hdel): the keyspace events, in order (no polling)."""
    events: list[str] = []
    deadline = time.monotonic() + timeout
    while events[-2:] != ["hset", "hdel"] and (left := deadline - time.monotonic()) > 0:
        message = sub.get_message(timeout=left)
        if message is not None:
            events.append(message["data"].decode())
    return events
