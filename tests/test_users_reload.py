"""manage.py's add-user and remove-user count in a running service at its next request, without a restart.

A stranger's day two: `manage.py remove-user bob` while bob had a job, an open event stream and a logged-in client;
bob kept every access (the processes had read AUTH_USERS once, at start) until the whole run was restarted, which
stopped every other user's running jobs. The app here reads its users from a settings file, as run.py's programs do
(MUSIC_ANALYZER_ENV_FILE), and is served over real HTTP on the test session's Redis.
"""

from __future__ import annotations

import threading
import uuid

import pytest
import requests

import manage
from jobs.types import JOB_TYPES
from tests.conftest import auth_users, queued_record, serving, wait_for
from tests.sse import open_stream

ADMIN = ("alice-ops", "the admin's passphrase")
BOB = ("bob-ops", "bob's first passphrase")
BOB_NEW = ("bob-ops", "bob's second passphrase")


@pytest.fixture()
def users_app(settings, tmp_path, monkeypatch):
    """An app whose users come from a settings file (not from its own settings), with a 0.2 s stream heartbeat."""
    from app import create_app

    env = tmp_path / "music-analyzer.env"
    env.write_text(f"AUTH_USERS='{auth_users(ADMIN, BOB)}'\nADMIN_USERS='{ADMIN[0]}'\n")
    monkeypatch.setenv("MUSIC_ANALYZER_ENV_FILE", str(env))
    own = {k: v for k, v in settings.items() if k not in ("AUTH_USERS", "ADMIN_USERS")}
    token = uuid.uuid4().hex[:8]  # a queue nobody consumes: bob's job stays queued for the whole test
    app = create_app({**own, "DATA_DIR": str(tmp_path / "data"), "EVENTS_HEARTBEAT_SECONDS": 0.2,
                      "CPU_QUEUE": f"cpu-users-{token}", "GPU_QUEUE": f"gpu-users-{token}"})
    return app, env


def status(base: str, auth: tuple[str, str], path: str = "/sessions") -> int:
    return requests.get(base + path, auth=auth, timeout=30).status_code


def bobs_followed_job(app, base: str, session_id: str):
    """A session of bob's with a queued job (never published) and bob's event stream of it, past its first event."""
    assert requests.post(base + "/sessions", json={"session_id": session_id}, auth=BOB, timeout=30).status_code == 201
    job = queued_record(app, owner=BOB[0], job_type="features", session_id=session_id, queue=app.config["CPU_QUEUE"],
                        task=JOB_TYPES["features"].task, params={"files": [], "batch": True, "options": {}})
    events = open_stream(base, job["job_id"], BOB)
    assert events.next().json()["state"] == "queued"
    return job, events


def test_a_removed_user_is_refused_at_once_their_stream_ends_and_re_added_with_a_new_password(users_app):
    app, env = users_app
    with serving(app) as base:
        job, events = bobs_followed_job(app, base, "mine")
        assert status(base, BOB) == 200  # remembered by the process: the next check is not the slow hash
        ended = threading.Event()

        def read_to_the_end() -> None:
            while events.next() is not None:  # keep-alives every 0.2 s until the server lets the stream go
                pass
            ended.set()

        threading.Thread(target=read_to_the_end, daemon=True).start()

        assert manage.remove_user(BOB[0], env)
        assert status(base, BOB) == 401
        assert ended.wait(10), "a removed user's event stream stayed open"
        events.response.close()
        # the admin still reaches bob's data, as after a restart
        listed = requests.get(base + "/jobs", params={"owner": BOB[0]}, auth=ADMIN, timeout=30).json()["jobs"]
        assert [j["job_id"] for j in listed] == [job["job_id"]]
        assert status(base, ADMIN, "/sessions/mine?owner=" + BOB[0]) == 200

        assert manage.add_user(BOB[0], BOB_NEW[1], env) is False  # back, with another password
        assert status(base, BOB) == 401
        assert status(base, BOB_NEW) == 200
        assert requests.get(f"{base}/jobs/{job['job_id']}", auth=BOB_NEW, timeout=30).json()["state"] == "queued"
        assert requests.delete(f"{base}/jobs/{job['job_id']}", auth=BOB_NEW, timeout=30).status_code == 202


def test_a_changed_password_ends_the_old_ones_access_and_a_stream_opened_with_it(users_app):
    app, env = users_app
    with serving(app) as base:
        job, events = bobs_followed_job(app, base, "pw")
        assert manage.add_user(BOB[0], BOB_NEW[1], env) is True
        assert status(base, BOB) == 401 and status(base, BOB_NEW) == 200
        wait_for(lambda: events.next() is None, timeout=10, message="the old password's stream to end")
        events.response.close()
        # an admin made by the file counts at once too, and so does a malformed file: the users stay as they were
        manage.add_user("carol-ops", "carol's passphrase", env, admin=True)
        carol = ("carol-ops", "carol's passphrase")
        assert requests.get(f"{base}/jobs/{job['job_id']}", auth=carol, timeout=30).status_code == 200
        env.write_text(env.read_text() + "AUTH_USERS='not a user list'\n")
        assert status(base, BOB_NEW) == 200
        assert requests.delete(f"{base}/jobs/{job['job_id']}", auth=carol, timeout=30).status_code == 202
