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
import time
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
from jobs.estimates import MIN_PROGRESS, MIN_SECONDS
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


@pytest.fixture(scope="module")
def long_flac(tmp_path_factory) -> Path:
    """The recording, made once for the module's two tests (read only: each uploads it to a session of its own)."""
    return long_recording(tmp_path_factory.mktemp("eta") / "long.flac")


def seconds_of(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def written_at(event_id: str) -> float:
    """When the worker wrote an event: its id is the Redis stream's, the server's clock (this machine's) in ms."""
    return int(event_id.split("-")[0]) / 1000


def at_rate(progress: float, lo: float, hi: float) -> tuple[float, float]:
    """The bounds of the time left at a job's own rate (jobs/estimates.py, said to 0.1 s) for a `progress` reported
    after lo..hi seconds of its run: a figure checked against when it was made, whatever the machine's load."""
    return lo * (1 - progress) / progress - 0.05, hi * (1 - progress) / progress + 0.05


def check_report(eta: dict, progress: float, lo: float, hi: float) -> None:
    """A report of a job with no history: its own rate once its share and run mean something, said as they were
    (lo..hi: the seconds its run can have had at the report, bounded by the stream's write times); none before."""
    if progress < MIN_PROGRESS or progress >= 1 or hi < MIN_SECONDS:
        assert eta == {"seconds_left": None, "basis": None}, (eta, progress, lo, hi)
    elif lo >= MIN_SECONDS or eta["basis"] is not None:
        low, high = at_rate(progress, max(lo, 0.0), hi)
        assert eta["basis"] == "progress" and low <= eta["seconds_left"] <= high, (eta, progress, lo, hi)


def queue_features(c: Client, sid: str, **more: str) -> dict:
    answer = c.post(f"/process/features/{sid}", json={"file": "long.flac", "picture": False, **more})
    assert answer.status_code == 202, answer.text
    return answer.json()


@contextmanager
def long_analyses(own_queues: dict, recording: Path
                  ) -> Iterator[tuple[str, Client, str, redis_lib.Redis, Callable[[], None]]]:
    """An app on queues of its own that takes a 30-minute upload, served over HTTP, and a session holding
    `recording` (long.flac):
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
        with open(recording, "rb") as f:
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
def test_a_running_analysis_says_how_long_it_has_left_and_a_queued_one_when_it_starts(own_queues, tmp_path,
                                                                                      long_flac):
    from app import create_app

    spec = spec_for(create_app(own_queues))
    receiver = Receiver()
    with long_analyses(own_queues, long_flac) as (base, c, sid, r, start_worker):
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
                events.append((written_at(event.id) if event.id else None, event.event, data))
                if seen_a is None and event.event == "progress" and data["eta"]["basis"] == "progress":
                    # the job's own rate means something now: its view says it, and a job queued behind it
                    # (the worker runs one at a time) starts when it ends, by the same measure
                    b = queue_features(c, sid)
                    # b's start is a's time left as b is read: read between two reads of a, whose progress and
                    # times bound it, wherever the machine's load puts the reads and the reports between them
                    before = time.time()
                    seen_a = c.get(f"/jobs/{a}").json()
                    seen_b = c.get(f"/jobs/{b['job_id']}").json()
                    seen_a2 = c.get(f"/jobs/{a}").json()
                    after = time.time()
                    table = subprocess.run([*CLI, "jobs", "--session", sid], env=cli_env(base, tmp_path),
                                           capture_output=True, text=True, timeout=120)
        done = events[-1][2]
        assert done["state"] == "succeeded", done
        assert "eta" not in done  # an ended job has none

        # the first report (decoding, at 5 % within its first second): no basis yet (check_report: unless a loaded
        # machine wrote it after MIN_SECONDS of the run, when the job's rate is a basis)
        progress = [(at, d) for at, event, d in events if event == "progress"]
        assert progress[0][1]["stage"] == "decoding", progress[0]
        # each estimate from the job's rate as it was at its report: the run's start (the record's, a moment before
        # the reporter's own) to the report (after the report before it was written, before its own was)
        started, finished = seconds_of(done["started_at"]), seconds_of(done["finished_at"])
        ran = finished - started
        first_written = progress[0][0]
        for i, (at, d) in enumerate(progress):
            lo = progress[i - 1][0] - first_written - 0.001 if i else 0.0
            check_report(d["eta"], d["progress"], lo, at + 0.001 - started)
        measured = [(at, d["eta"]["seconds_left"]) for at, d in progress if d["eta"]["basis"] == "progress"]
        assert len(measured) >= 3, progress
        # and they come to the run's real length: the whole run the last predicts (what had run + what it says is
        # left) is within a factor of it (the early ones follow the machine's load: the share grows unevenly too,
        # the file's analysis is 5-60 %, its writing 60-100 %)
        at, left = measured[-1]
        assert 0.5 * ran <= (at - started) + left <= 3 * ran, (at - started, left, ran)

        # read while it ran: the view's estimate, at the rate up to the read
        assert seen_a["state"] == "running" and seen_a["eta"]["basis"] == "progress", seen_a
        low, high = at_rate(seen_a["progress"], before - started - 0.002, after - started + 0.002)
        assert low <= seen_a["eta"]["seconds_left"] <= high and seen_a["eta"]["seconds_left"] > 0, (seen_a, low, high)
        assert_answer(spec, "GET", "/jobs/{job_id}", 200, seen_a)
        # the job behind it: next, starting when the running one ends; its own run has no basis yet
        assert seen_b["state"] == "queued" and seen_b["jobs_ahead"] == 0, seen_b
        eta_b = seen_b["eta"]
        assert eta_b["basis"] == "queue" and eta_b["seconds_left"] is None, eta_b
        # by the same measure: a's rate as b was read (a's progress then is between its two reads')
        assert seen_a2["state"] == "running" and seen_a2["progress"] >= seen_a["progress"], seen_a2
        low = at_rate(seen_a2["progress"], before - started - 0.002, after - started)[0]
        high = at_rate(seen_a["progress"], before - started, after - started + 0.002)[1]
        assert low - 0.05 <= eta_b["starts_in"] <= high + 0.05, (eta_b, low, high, seen_a, seen_a2)
        assert_answer(spec, "GET", "/jobs/{job_id}", 200, seen_b)
        # `ma jobs` says both
        assert table.returncode == 0, table.stderr
        rows = {line.split()[0]: line for line in table.stdout.splitlines() if line.strip()}
        assert re.search(r"features · about (\d+ s|\d+ min \d+ s) left", rows[a]), table.stdout
        assert re.search(r"queued \(next, starts in about (\d+ s|\d+ min \d+ s)\)", rows[b["job_id"]]), \
            table.stdout

        # the finished run is kept for the next of its kind: the job behind it, now running, expects as long
        # (its length as the worker timed it: from after the record's start to after its last report, before its end)
        kept = [json.loads(x) for x in r.lrange(keys.durations("features:"), 0, -1)]
        assert [audio for audio, _ in kept] == [float(LONG_SECONDS)], kept
        assert progress[-1][0] - first_written - 0.003 <= kept[0][1] <= ran + 0.003, (kept, ran, progress[-1])
        with open_stream(base, b["job_id"], c.s.auth, NO_EVENT_ID) as stream_b:
            report_b = next(e for e in iter(stream_b.next, None) if e.event and "eta" in e.json()
                            and e.json()["state"] == "running" and e.json().get("stage") == "decoding")
        first_b = report_b.json()
        # its first report, before its own rate means anything: the kind's run less what it has run (said to 0.1 s)
        # (a loaded machine may have written it after MIN_SECONDS of b's run: its own rate then, checked as a's)
        ran_by = written_at(report_b.id) + 0.001 - seconds_of(c.get(f"/jobs/{b['job_id']}").json()["started_at"])
        if first_b["eta"]["basis"] != "history":
            assert ran_by >= MIN_SECONDS, (first_b, ran_by)
            check_report(first_b["eta"], first_b["progress"], 0.0, ran_by)
        else:
            assert 0 < first_b["eta"]["seconds_left"] <= kept[0][1] + 0.1, (first_b, kept)
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
    reported = [d["eta"] for _, event, d in events if event == "progress"]
    assert told and all(eta in reported for eta in told), (hooked, reported)
    assert hooked[-1] == ("job.completed", None)


PLACE_REFRESH_MS = 5000  # how often the page reads a queued row's place (and when it may start) again: web/js/jobs.js


@pytest.mark.slow  # a 30-minute analysis, a worker process: 13-40 s here (idle to loaded)
@pytest.mark.needs_chromium
def test_the_pages_job_rows_say_the_time_left_and_when_a_queued_job_starts(browser, own_queues, long_flac):
    with long_analyses(own_queues, long_flac) as (base, c, sid, _, start_worker):
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
            # the first job's progress events carry its time left once its own rate means something: followed on
            # its own stream to that event (a worker process's start and a 30-minute decoding take what the
            # machine's load makes them: 60 s of the row's wait had run out under load), then the row says it
            with open_stream(base, a["job_id"], c.s.auth, NO_EVENT_ID) as stream:
                told = next((e.json() for e in iter(stream.next, None) if e.event == "progress"
                             and e.json()["eta"]["basis"] == "progress"), None)
            assert told is not None, "the job ended without a progress event with its time left"
            left = rows[a["job_id"]].locator(".stage", has_text=re.compile(r"features · about \d+ s left"))
            left.wait_for()
            # the second's next read of its place (now rather than up to 5 s on) says when it starts: as the first ends
            page.clock.fast_forward(PLACE_REFRESH_MS)
            rows[b["job_id"]].locator(".stage", has_text=re.compile(
                r"long\.flac · queued · next · starts in about \d+ s")).wait_for(timeout=20_000)
            assert problems == [], problems
        finally:
            context.close()
