"""The API's threads are not all given to waiting requests: a real gunicorn of the API's worker class (gthread) holds
at most half its `--threads` in event streams and long polls, whoever's they are; a stream past that ends after the
current state, a long poll is answered at once (api/waits.py).

A reliability trial: a 2-second restart of the events server (kill -9) sent 60 reconnecting listeners of one user to
the API (nginx's backup upstream); they held all its threads, and another user's GET /sessions timed out for as long
as the job ran (STREAMS_PER_USER, 100 per process, is sized for the events server's greenlets, not for 8 threads).
Three users' 8 probes each (POST /jobs/probe, WAITS_PER_USER 4 per process) held every thread of the API too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from jobs.types import JOB_TYPES
from redis_server import free_port
from tests.conftest import OTHER, OTHER_PASSWORD, PASSWORD, USER, queued_record, wait_for
from tests.sse import open_stream

ROOT = Path(__file__).resolve().parent.parent
THREADS = 4  # gunicorn's --threads here; the app's API_THREADS setting is left at its default, 8
PASSED_ON = ("DATA_DIR", "REDIS_URL", "AUTH_USERS", "ADMIN_USERS", "CPU_QUEUE", "GPU_QUEUE", "MODELS_DIR")


@contextmanager
def gunicorn_api(settings: dict, tmp: Path) -> Iterator[str]:
    """run.py's API program (service/programs.py api()), one process, on a free TCP port; stopped on the way out."""
    port = free_port()
    env = {**os.environ, **{k: str(settings[k]) for k in PASSED_ON},
           "MUSIC_ANALYZER_ENV_FILE": str(tmp / "none.env")}  # no .env of the checkout's
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "-k", "service.api_worker.ApiWorker",
                             "--threads", str(THREADS), "-b", f"127.0.0.1:{port}", "app:create_app()"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base), timeout=120, interval=0.1, message="gunicorn's API to answer")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def queued(app, settings: dict, owner: str = USER) -> str:
    return queued_record(app, owner=owner, job_type="features", session_id=None, queue=settings["CPU_QUEUE"],
                         task=JOB_TYPES["features"].task, params={"files": [], "batch": False, "options": {}})["job_id"]


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/health", timeout=5).status_code in (200, 503)
    except requests.RequestException:
        return False


def test_event_streams_hold_at_most_half_the_api_threads_and_others_are_answered(settings, tmp_path):
    from app import create_app

    app = create_app(settings)
    job, later = queued(app, settings), queued(app, settings)
    with gunicorn_api(settings, tmp_path) as base:
        streams = [open_stream(base, job, (USER, PASSWORD)) for _ in range(THREADS)]
        try:
            held, extra = streams[:THREADS // 2], streams[THREADS // 2:]
            for stream in held:  # held: EventSource's usual 2 s reconnect
                assert stream.next().json()["state"] == "queued" and stream.retry == 2000
            for stream in extra:  # past the threads' share: the current state, then the end; back in 10 s
                first = stream.next()
                assert stream.retry == 10_000 and first.event == "state" and first.json()["state"] == "queued"
                assert stream.events() == []
            # another user is answered while the held streams go on (all 4 threads had been theirs: a timeout)
            r = requests.get(f"{base}/sessions", auth=(OTHER, OTHER_PASSWORD), timeout=20)
            assert r.status_code == 200, r.text
            app.extensions["music_analyzer"].jobs.request_cancel(job)
            for stream in held:
                assert [e.event for e in stream.events()] == ["done"]
            # their threads are given back: as many new streams are held again, to their job's end
            streams += [open_stream(base, later, (USER, PASSWORD)) for _ in range(THREADS // 2)]
            for stream in streams[THREADS:]:
                assert stream.next().json()["state"] == "queued" and stream.retry == 2000
            app.extensions["music_analyzer"].jobs.request_cancel(later)
            for stream in streams[THREADS:]:
                assert [e.event for e in stream.events()] == ["done"]
        finally:
            for stream in streams:
                stream.response.close()


def test_long_polls_of_several_users_hold_at_most_half_the_api_threads(settings, tmp_path):
    from app import create_app

    app = create_app(settings)
    jobs = {USER: queued(app, settings, USER), OTHER: queued(app, settings, OTHER)}
    answers: list[dict] = []

    def poll(auth: tuple[str, str]) -> None:
        r = requests.get(f"{base}/jobs/{jobs[auth[0]]}", params={"wait": 120}, auth=auth, timeout=180)
        answers.append(r.json())

    with gunicorn_api(settings, tmp_path) as base:
        # two users, each within their own share (WAITS_PER_USER 4): together they had held all 4 threads
        users = [(USER, PASSWORD), (OTHER, OTHER_PASSWORD)] * 2
        polls = [threading.Thread(target=poll, args=(auth,)) for auth in users]
        for t in polls:
            t.start()
        try:
            wait_for(lambda: len(answers) == THREADS // 2, timeout=60, message="the polls past the threads' share")
            assert [a.get("state") for a in answers] == ["queued"] * (THREADS // 2), answers  # at once, still queued
            r = requests.get(f"{base}/sessions", auth=(OTHER, OTHER_PASSWORD), timeout=20)
            assert r.status_code == 200, r.text
        finally:
            for job in jobs.values():
                app.extensions["music_analyzer"].jobs.request_cancel(job)
            for t in polls:
                t.join(timeout=180)
        assert sorted(a["state"] for a in answers) == ["canceled"] * (THREADS // 2) + ["queued"] * (THREADS // 2)
