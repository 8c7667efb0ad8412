"""A job says how long it has left, and a queued one roughly when it starts (`eta`, jobs/estimates.py).

A stranger's trial: "no whole-job estimates". Real parts throughout: an app on queues of its own over real HTTP, a
real `celery worker` process running real features analyses of a 30-minute recording, the session's valkey, the job's
event stream, and the real command line on a pseudo-terminal. Nothing waits by sleeping: each step follows the job's
own events.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import redis as redis_lib
import soundfile as sf

from api.openapi.build import spec_for
from jobs import keys
from jobs.event_log import NO_EVENT_ID
from tests.browser_page import logged_in
from tests.conftest import Client, serving
from tests.contract import assert_answer
from tests.sse import open_stream
from tests.test_api_contract import Receiver
from tests.test_cli import CLI, cli_env, on_a_terminal
from tests.test_cli_webhook import delivered
from tests.test_resilience import start_worker_process, stop_all

LONG_SECONDS = 1800  # a features analysis of it runs 10-15 s here: long enough for its rate to mean something, and
# for the command line to start and read while it runs
RATE = 22050


def long_recording(path: Path) -> Path:
    """30 minutes of a slowly gliding tone (FLAC: a few MB to upload). Computed a million samples at a time into
    one float32 array: the same samples (each is its own time's value) as the whole 40-million-sample float64
    arrays at once, which took 6-8 s of the test here against ~2 s (memory traffic, not arithmetic)."""
    y = np.empty(LONG_SECONDS * RATE, dtype=np.float32)
    step = 1 << 20
    for start in range(0, len(y), step):
        t = np.arange(start, min(start + step, len(y)), dtype=np.float64) / RATE
        y[start:start + len(t)] = 0.3 * np.sin(2 * np.pi * (220 + 0.05 * t) * t)
    sf.write(path, y, RATE, format="FLAC", subtype="PCM_16")
    return path


def seconds_of(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def queue_features(c: Client, sid: str, **more: str) -> dict:
    answer = c.post(f"/process/features/{sid}", json={"file": "long.flac", "picture": False, **more})
    assert answer.status_code == 202, answer.text
    return answer.json()


@contextmanager
def long_analyses(own_queues: dict, tmp_path: Path
                  ) -> Iterator[tuple[str, Client, str, redis_lib.Redis, Callable[[], None]]]:
    """An app on queues of its own that takes a 30-minute upload, served over HTTP, and a session holding one:
    yields (base URL, client, session id, Redis, what starts its worker); the worker is stopped at the end."""
    from app import create_app

    settings = {**own_queues, "MAX_UPLOAD_BYTES": 64 * 1024 * 1024, "MAX_DURATION_SECONDS": 3600.0}
    app = create_app(settings)
    r = redis_lib.Redis.from_url(settings["REDIS_URL"])
    r.delete(keys.durations("features:"))  # no finished features job yet: no history to go by
    env = {**os.environ, "REDIS_URL": settings["REDIS_URL"], "DATA_DIR": settings["DATA_DIR"],
           "AUTH_USERS": settings["AUTH_USERS"], "HEARTBEAT_SECONDS": "0.5", "GPU_QUEUE": settings["GPU_QUEUE"],
           "CPU_QUEUE": settings["CPU_QUEUE"], "MAX_DURATION_SECONDS": "3600", "MAX_UPLOAD_BYTES": str(64 << 20),
           "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "WEBHOOK_SECRET": settings["WEBHOOK_SECRET"],
           "WEBHOOK_PROGRESS_SECONDS": "0"}
    workers: list = []
    with serving(app) as base:
        c = Client(base)
        sid = c.post("/sessions").json()["session_id"]
        with open(long_recording(tmp_path / "long.flac"), "rb") as f:
            assert c.post(f"/sessions/{sid}/files", files={"file": ("long.flac", f)}).status_code == 201
        try:
            yield base, c, sid, r, lambda: workers.append(
                start_worker_process(env, settings["CPU_QUEUE"], f"eta-{uuid.uuid4().hex[:6]}@test"))
        finally:
            # what the test left queued or running is canceled first: a worker's stop (a warm shutdown) waits for its
            # running job, and the page's test ends while the first 30-minute analysis still runs (~10 s more)
            for job in c.get("/jobs", params={"state": "queued,running", "limit": 1000}).json()["jobs"]:
                c.delete(f"/jobs/{job['job_id']}")
            stop_all(workers)


@pytest.mark.slow  # two 30-minute analyses, a worker process: 28-110 s here (idle to loaded)
def test_a_running_analysis_says_how_long_it_has_left_and_a_queued_one_when_it_starts(own_queues, tmp_path):
    from app import create_app

    spec = spec_for(create_app(own_queues))
    receiver = Receiver()
    with long_analyses(own_queues, tmp_path) as (base, c, sid, r, start_worker):
        # queued with no worker on its queue and no finished job of its kind: no basis, said as null
        first = queue_features(c, sid, webhook=receiver.url)
        assert first["eta"] == {"seconds_left": None, "starts_in": None, "basis": None}, first
        assert_answer(spec, "POST", "/process/features/{session_id}", 202, first)
        a = first["job_id"]
        start_worker()
        events, seen_a, b = [], None, None
        with open_stream(base, a, c.s.auth, NO_EVENT_ID) as stream:
            for event in iter(stream.next, None):  # each event as it comes, to the end of the stream
                if event.event is None:  # a keep-alive comment
                    continue
                data = event.json()
                events.append((event.received, event.event, data))
                if seen_a is None and event.event == "progress" and data["eta"]["basis"] == "progress":
                    # the job's own rate means something now: its view says it, and a job queued behind it
                    # (the worker runs one at a time) starts when it ends, by the same measure
                    b = queue_features(c, sid)
                    seen_a = c.get(f"/jobs/{a}").json()
                    seen_b = c.get(f"/jobs/{b['job_id']}").json()
                    table = subprocess.run([*CLI, "jobs", "--session", sid], env=cli_env(base, tmp_path),
                                           capture_output=True, text=True, timeout=120)
        done = events[-1][2]
        assert done["state"] == "succeeded", done
        assert "eta" not in done  # an ended job has none

        # the first report (decoding, at 5 % within its first second): no basis yet
        progress = [(at, d) for at, event, d in events if event == "progress"]
        assert progress[0][1]["stage"] == "decoding" and progress[0][1]["eta"] == {
            "seconds_left": None, "basis": None}, progress[0]
        # each estimate from the job's rate: the whole run it predicts (what had run + what it says is left)
        # is within a factor of the run's real length (the share grows unevenly: the file's analysis is 5-60 %,
        # its writing 60-100 %)
        started, finished = seconds_of(done["started_at"]), seconds_of(done["finished_at"])
        ran = finished - started
        measured = [(at, d["eta"]["seconds_left"]) for at, d in progress if d["eta"]["basis"] == "progress"]
        assert len(measured) >= 3, progress
        for at, left in measured:
            assert left >= 0 and 0.5 * ran <= (at - started) + left <= 3 * ran, (at - started, left, ran)

        # read while it ran: the view's estimate, at the rate up to the read
        assert seen_a["state"] == "running" and seen_a["eta"]["basis"] == "progress", seen_a
        assert 0 < seen_a["eta"]["seconds_left"] < 3 * ran, seen_a
        assert_answer(spec, "GET", "/jobs/{job_id}", 200, seen_a)
        # the job behind it: next, starting when the running one ends; its own run has no basis yet
        assert seen_b["state"] == "queued" and seen_b["jobs_ahead"] == 0, seen_b
        eta_b = seen_b["eta"]
        assert eta_b["basis"] == "queue" and eta_b["seconds_left"] is None, eta_b
        assert abs(eta_b["starts_in"] - seen_a["eta"]["seconds_left"]) < 2, (eta_b, seen_a["eta"])
        assert_answer(spec, "GET", "/jobs/{job_id}", 200, seen_b)
        # `ma jobs` says both
        assert table.returncode == 0, table.stderr
        rows = {line.split()[0]: line for line in table.stdout.splitlines() if line.strip()}
        assert re.search(r"features · about (\d+ s|\d+ min \d+ s) left", rows[a]), table.stdout
        assert re.search(r"queued \(next, starts in about (\d+ s|\d+ min \d+ s)\)", rows[b["job_id"]]), \
            table.stdout

        # the finished run is kept for the next of its kind: the job behind it, now running, expects as long
        kept = [json.loads(x) for x in r.lrange(keys.durations("features:"), 0, -1)]
        assert [audio for audio, _ in kept] == [float(LONG_SECONDS)] and abs(kept[0][1] - ran) < 1, (kept, ran)
        with open_stream(base, b["job_id"], c.s.auth, NO_EVENT_ID) as stream_b:
            first_b = next(d for d in (e.json() for e in iter(stream_b.next, None) if e.event) if "eta" in d
                           and d["state"] == "running" and d.get("stage") == "decoding")
        # its first report, before its own rate means anything: the kind's run less what it has run
        assert first_b["eta"]["basis"] == "history", first_b
        assert 0 < first_b["eta"]["seconds_left"] <= kept[0][1] + 0.05, (first_b, kept)  # (said to 0.1 s)
        # followed on a terminal with bars: the time left, counted down between its events
        code, screen, _ = on_a_terminal(["jobs", "--watch", "--session", sid], cli_env(base, tmp_path))
        assert code == 0, screen
        assert re.search(r"about (\d+ s|\d+ min \d+ s) left", screen), screen
        ended = c.get(f"/jobs/{b['job_id']}").json()
        assert ended["state"] == "succeeded" and "eta" not in ended

    # its webhook's deliveries carry the job's view: its start with no basis yet, its progress as each report told it
    bodies = [json.loads(d["body"]) for d in delivered(receiver, a, "job.completed")]
    receiver.close()
    hooked = [(body["type"], body["data"].get("eta")) for body in bodies if body["data"]["job_id"] == a]
    assert hooked[0] == ("job.start", {"seconds_left": None, "basis": None}), hooked
    told = [eta for kind, eta in hooked if kind == "job.progress" and eta["basis"] == "progress"]
    assert told and all(0 <= eta["seconds_left"] < 3 * ran for eta in told), hooked
    assert hooked[-1] == ("job.completed", None)


PLACE_REFRESH_MS = 5000  # how often the page reads a queued row's place (and when it may start) again: web/js/jobs.js


@pytest.mark.slow  # a 30-minute analysis, a worker process: 13-40 s here (idle to loaded)
@pytest.mark.needs_chromium
def test_the_pages_job_rows_say_the_time_left_and_when_a_queued_job_starts(browser, own_queues, tmp_path):
    with long_analyses(own_queues, tmp_path) as (base, c, sid, _, start_worker):
        a, b = (queue_features(c, sid) for _ in range(2))
        context, page, problems = logged_in(browser)
        try:
            page.clock.install()  # the page's timers on a clock the test moves on (time runs on as usual besides)
            page.goto(f"{base}/#session={sid}")
            rows = {j["job_id"]: page.locator(f"#job-list li.job[data-job='{j['job_id']}']") for j in (a, b)}
            # no worker yet, no finished job of the kind: the rows say their place and no time
            rows[b["job_id"]].locator(".stage", has_text="long.flac · queued · 1 ahead").wait_for()
            assert "about" not in rows[b["job_id"]].locator(".stage").inner_text()
            start_worker()
            # the first job's progress events carry its time left once its own rate means something
            left = rows[a["job_id"]].locator(".stage", has_text=re.compile(r"features · about \d+ s left"))
            left.wait_for(timeout=60_000)
            # the second's next read of its place (now rather than up to 5 s on) says when it starts: as the first ends
            page.clock.fast_forward(PLACE_REFRESH_MS)
            rows[b["job_id"]].locator(".stage", has_text=re.compile(
                r"long\.flac · queued · next · starts in about \d+ s")).wait_for(timeout=20_000)
            assert problems == [], problems
        finally:
            context.close()
