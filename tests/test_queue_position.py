"""A queued job says how many waiting jobs its queue's workers take before it (`jobs_ahead`, jobs/queue_position.py).

A queued job had said "queued" and nothing more: behind the one GPU worker a user could not tell a wait of one job
from forty. Real HTTP to an app on queues of its own, which no worker consumes (so every job stays queued), real
Celery messages in the test session's valkey, and the real command line.
"""

from __future__ import annotations

import subprocess

import redis as redis_lib

from api.openapi.build import spec_for
from jobs.queue_position import QueuePositions
from tests.conftest import OTHER, OTHER_PASSWORD, PASSWORD, USER, Client, queued_record, serving
from tests.contract import assert_answer
from tests.test_cli import CLI, cli_env
from tests.test_fair_queue import A, B, session_with_tone


def queue_features(c: Client, sid: str, name: str) -> dict:
    answer = c.post(f"/process/features/{sid}", json={"file": name, "picture": False})
    assert answer.status_code == 202, answer.text
    return answer.json()


def test_each_queued_job_says_how_many_wait_before_it_and_a_canceled_one_no_longer_counts(own_queues, tmp_path,
                                                                                          redis_url):
    from app import create_app

    app = create_app(own_queues)
    spec = spec_for(app)
    with serving(app) as base:
        alice, bob = Client(base), Client(base, (OTHER, OTHER_PASSWORD))
        with app.test_client() as wc:  # uploads through the app itself: the jobs below are what is tested
            sid, bob_sid = session_with_tone(wc, A, tmp_path, "a.wav"), session_with_tone(wc, B, tmp_path, "b.wav")
        a1, a2, a3 = (queue_features(alice, sid, "a.wav") for _ in range(3))
        # when each was queued: nothing, one, then two waited before it
        assert [a["jobs_ahead"] for a in (a1, a2, a3)] == [0, 1, 2]
        assert_answer(spec, "POST", "/process/features/{session_id}", 202, a3)
        b1 = queue_features(bob, bob_sid, "b.wav")
        assert b1["jobs_ahead"] == 1  # Bob's first job takes its turn after Alice's first, before her second

        def ahead(c: Client, job: dict) -> int | None:
            body = c.get(f"/jobs/{job['job_id']}").json()
            assert_answer(spec, "GET", "/jobs/{job_id}", 200, body)
            return body["jobs_ahead"]

        assert [ahead(alice, a1), ahead(bob, b1), ahead(alice, a2), ahead(alice, a3)] == [0, 1, 2, 3]
        listed = alice.get("/jobs", params={"state": "queued", "session_id": sid}).json()["jobs"]
        assert {j["job_id"]: j["jobs_ahead"] for j in listed} == {a1["job_id"]: 0, a2["job_id"]: 2, a3["job_id"]: 3}
        session_jobs = alice.get(f"/sessions/{sid}").json()["jobs"]
        assert sorted(j["jobs_ahead"] for j in session_jobs) == [0, 2, 3]

        # a canceled job's message stays in the list until a worker drops it: it is no longer counted
        assert alice.delete(f"/jobs/{a1['job_id']}").status_code == 202
        assert [ahead(bob, b1), ahead(alice, a2), ahead(alice, a3)] == [0, 1, 2]
        assert "jobs_ahead" not in alice.get(f"/jobs/{a1['job_id']}").json()  # only a queued job has one

        # a queued job whose message is not waiting (a worker has just taken it; here, never sent): null
        unsent = queued_record(app, owner=USER, job_type="features", session_id=sid, queue=own_queues["CPU_QUEUE"],
                               task="music_analyzer.features", params={"files": ["a.wav"], "batch": False,
                                                                       "options": {}})
        body = alice.get(f"/jobs/{unsent['job_id']}").json()
        assert body["state"] == "queued" and body["jobs_ahead"] is None, body
        assert_answer(spec, "GET", "/jobs/{job_id}", 200, body)

        # the command line's table names the place: "(next)", "(N ahead)"
        env = cli_env(base, tmp_path)
        table = subprocess.run([*CLI, "jobs", "--session", sid, "--state", "queued"], env=env, capture_output=True,
                               text=True, timeout=120)
        assert table.returncode == 0, table.stderr
        rows = {line.split()[0]: line for line in table.stdout.splitlines() if line.strip()}
        assert "(1 ahead)" in rows[a2["job_id"]] and "(2 ahead)" in rows[a3["job_id"]], table.stdout

    # the walk is bounded: past `limit` messages looked at, a job's place is not known
    positions = QueuePositions(redis_lib.Redis.from_url(redis_url))
    queue = own_queues["CPU_QUEUE"]
    ids = [b1["job_id"], a2["job_id"], a3["job_id"]]
    assert positions.ahead(queue, ids) == {b1["job_id"]: 0, a2["job_id"]: 1, a3["job_id"]: 2}
    # (the canceled a1's message is looked at first: a limit of 3 reaches b1 and a2, not a3)
    assert positions.ahead(queue, ids, limit=3) == {b1["job_id"]: 0, a2["job_id"]: 1}
    assert positions.ahead(queue, []) == {}


def test_a_queued_jobs_event_stream_tells_its_place_as_it_moves(own_queues, tmp_path):
    """The stream said when the job started, not when the jobs ahead of it did: its first state now has its place,
    and a `state` event (with no id: it is not in the job's log) says each new place, looked at every PLACE_SECONDS
    while it waits. Followed with the Python client, as the CLI's bars and spinners are."""
    from music_analyzer_client import MusicAnalyzer
    from music_analyzer_client.ui import status_text
    from music_analyzer_client.watching import job_text

    from app import create_app

    app = create_app(own_queues)
    with app.test_client() as wc:
        sid = session_with_tone(wc, A, tmp_path, "a.wav")
    with serving(app) as base:
        alice = Client(base)
        first, second = (queue_features(alice, sid, "a.wav") for _ in range(2))
        events = MusicAnalyzer(base, USER, PASSWORD).events(second["job_id"])
        opened = next(events)
        assert opened["event"] == "state" and opened["data"]["jobs_ahead"] == 1, opened
        assert status_text(opened["data"]) == "queued (1 ahead)"
        assert job_text(opened["data"]) == "waiting for the GPU worker (1 ahead)…"
        assert alice.delete(f"/jobs/{first['job_id']}").status_code == 202  # the job ahead goes
        moved = next(events)  # within PLACE_SECONDS: the stream's next event is its new place
        assert moved["event"] == "state" and moved["data"]["state"] == "queued", moved
        assert moved["data"]["jobs_ahead"] == 0 and status_text(moved["data"]) == "queued (next)"
        assert alice.delete(f"/jobs/{second['job_id']}").status_code == 202
        ended = list(events)  # its end: the stream's last event is the canceled record
        assert ended[-1]["event"] == "done" and ended[-1]["data"]["state"] == "canceled", ended


def test_a_log_line_gives_a_queued_jobs_place_once_not_per_move():
    """Piped or logged (no terminal), the CLI writes a line per state change: the queued one now with its place, and
    the place's moves (a state event each, same state) add no line."""
    import io

    from music_analyzer_client.ui import LineTracker
    from rich.console import Console

    out = io.StringIO()
    tracker = LineTracker(Console(file=out, width=200, no_color=True))
    tracker.add("j1", "pitch j1")
    for ahead in (3, 2, 0):
        tracker.update("j1", {"state": "queued", "progress": 0.0, "stage": "queued", "jobs_ahead": ahead})
    tracker.update("j1", {"state": "running", "progress": 0.1, "stage": "decoding"})
    assert out.getvalue().splitlines() == ["pitch j1: queued (3 ahead)", "pitch j1: running"]
