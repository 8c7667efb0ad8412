"""The job queue's disk fills as a worker starts a job, between recording it `running` and listing it as the worker's
current job: the job had been left `running` on a live worker that did not list it, which nothing recovered. Real
valkey on a real tmpfs filled to the last byte (root only), the in-process runner of tests/test_disk_full_queue.py."""

from __future__ import annotations

import logging
import uuid

import pytest

from tests.conftest import wait_for
from tests.small_disk import fill, valkey_on_a_small_disk
from tests.test_disk_full import start_app
from tests.test_disk_full_queue import job_on_the_queue, pitch_job_in_a_thread, valkey_refuses_writes


@pytest.mark.slow
def test_a_disk_that_fills_as_the_job_is_listed_leaves_it_queued_until_space_returns(settings, tmp_path, caplog,
                                                                                      monkeypatch):
    """The disk is filled when the runner lists the job as its worker's (the old runner had recorded it running just
    before). Past the outcome's wait (15 min, cut to 1 s here) the old runner gave up with the job `running` and its
    worker alive, for ever; the job now stays `queued` while the queue refuses writes and runs once space returns."""
    import jobs.runner

    monkeypatch.setattr(jobs.runner, "OUTCOME_WAIT_SECONDS", 1.0)
    caplog.set_level(logging.WARNING, logger="jobs.runner")
    token = uuid.uuid4().hex[:8]
    with valkey_on_a_small_disk(tmp_path) as (disk, url, _):
        app, job_id = job_on_the_queue(settings, tmp_path, url, token, session="listed", job_type="pitch")
        svc = app.extensions["music_analyzer"]
        runner_app = start_app(settings, tmp_path / "data", REDIS_URL=url, CPU_QUEUE=f"cpu-{token}",
                               GPU_QUEUE=f"gpu-{token}")
        registry = runner_app.extensions["music_analyzer"].workers
        listing = registry.set_current
        filled = []

        def fill_first(*args, **kwargs):  # the real listing, the disk filled just before it (once)
            if not filled:
                filled.append(fill(disk))
                wait_for(lambda: valkey_refuses_writes(url, token), timeout=20,
                         message="valkey to refuse writes on the full disk")
            return listing(*args, **kwargs)

        monkeypatch.setattr(registry, "set_current", fill_first)
        runner, outcome = pitch_job_in_a_thread(runner_app, job_id, token)
        # three refused tries: 1.5 s, past the 1 s wait
        wait_for(lambda: caplog.text.count("again in") >= 3 or outcome, timeout=60,
                 message="the runner to wait for the full job queue")
        job = svc.jobs.get(job_id)
        assert job["state"] == "queued" and job["attempts"] == 0, (job, outcome)
        filled[0].unlink()
        runner.join(timeout=120)
        assert outcome == ["succeeded"], outcome
        job = svc.jobs.get(job_id)
        assert job["state"] == "succeeded" and job["attempts"] == 1, job
        assert svc.workers.current(f"inproc-{token}@localhost") == []
