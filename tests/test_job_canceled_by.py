"""A canceled job's record says who asked (`canceled_by`), never naming another user to its owner.

A job record had said it was canceled, not by whom: an owner whose job an admin (or the service) had canceled could not
tell it from their own click. Real HTTP, the test session's Redis; the app's queues are its own, which no worker
consumes, so every job here is still queued when it is canceled (a probe waits in vain and is canceled by the API).
"""

from __future__ import annotations

import uuid

from tests.conftest import OTHER, OTHER_PASSWORD, PASSWORD, USER, Client, auth_users, queued_record, serving
from tests.test_resilience import make_app


def test_a_canceled_job_says_who_asked_and_an_admin_is_admin(settings, redis_url, tmp_path):
    token = uuid.uuid4().hex[:8]
    boss, boss_password = f"boss-{token}", "the boss's own passphrase"  # an admin whose name the owner must not read
    app = make_app(settings, redis_url, tmp_path, CPU_QUEUE=f"cpu-unserved-{token}", GPU_QUEUE=f"gpu-unserved-{token}",
                   AUTH_USERS=auth_users((USER, PASSWORD), (OTHER, OTHER_PASSWORD), (boss, boss_password)),
                   ADMIN_USERS=boss)

    def queued() -> str:
        return queued_record(app, owner=USER, job_type="features", session_id=f"s-{token}",
                             queue=app.config["CPU_QUEUE"], task="music_analyzer.features",
                             params={"files": ["a.wav"], "batch": False, "options": {}})["job_id"]

    with serving(app) as base:
        owner, admin = Client(base), Client(base, (boss, boss_password))
        mine, theirs, left = queued(), queued(), queued()
        assert owner.delete(f"/jobs/{mine}").json()["state"] == "canceled"
        assert admin.delete(f"/jobs/{theirs}").json()["state"] == "canceled"
        assert owner.get(f"/jobs/{mine}").json()["canceled_by"] == USER
        for who in (owner, admin):  # the role, not the admin's name, to the owner and to admins alike
            assert who.get(f"/jobs/{theirs}").json()["canceled_by"] == "admin"
        listed = owner.get("/jobs", params={"session_id": f"s-{token}", "state": "canceled"})
        assert {j["job_id"]: j["canceled_by"] for j in listed.json()["jobs"]} == {mine: USER, theirs: "admin"}
        assert boss not in listed.text
        assert "canceled_by" not in owner.get(f"/jobs/{left}").json()  # only a canceled job has one
        # a probe nobody answered: the API cancels it itself
        probe = owner.post("/jobs/probe", json={"queue": "cpu", "wait": 0.05})
        assert probe.status_code == 504, probe.text
        assert owner.get(f"/jobs/{probe.json()['job_id']}").json()["canceled_by"] == "system"
        assert owner.delete(f"/jobs/{left}").status_code == 202
