"""Idempotency-Key on the job routes, over real HTTP and the real worker: one key from one caller names one job
for the day; another request with it is 422; a claim whose request died lapses; an admin's keys are the admin's."""

from __future__ import annotations

import uuid

from tests.conftest import USER
from tests.test_api_contract import tone  # noqa: F401 - the fixture: a session holding t.wav


def test_idempotency_key_names_one_job(client, tone):  # noqa: F811 (tone: the fixture)
    headers = {"Idempotency-Key": "retry-me-7"}
    first = client.post(f"/process/features/{tone}", json={"file": "t.wav"}, headers=headers)
    again = client.post(f"/process/features/{tone}", json={"file": "t.wav"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["job_id"] == again.json()["job_id"]
    other_body = client.post(f"/process/features/{tone}", json={"file": "t.wav", "picture": False},
                             headers=headers)
    assert other_body.status_code == 422 and other_body.json()["error"]["code"] == "idempotency_key_reused"
    # which request the key came with, and its job: the 422 had said "another request" and no more
    error, path = other_body.json()["error"], f"/process/features/{tone}"
    assert error["message"] == (f"this Idempotency-Key was used with another request: POST {path} with another "
                                f"body, which made job {first.json()['job_id']}; send a new key with a new request")
    assert error["details"] == {"first_request": {"method": "POST", "path": path, "job_id": first.json()["job_id"]}}
    fresh = client.post(f"/process/features/{tone}", json={"file": "t.wav"}, headers={"Idempotency-Key": "k2"})
    assert fresh.json()["job_id"] != first.json()["job_id"]


def test_an_admins_idempotency_key_is_the_admins_own(client, admin_client, tone):  # noqa: F811 (tone: the fixture)
    """An admin acting on a user's session with a key the user used too got the user's job back (keys were the
    owner's): a client's retries are its own, as the key is the caller's."""
    headers = {"Idempotency-Key": f"shared-{uuid.uuid4().hex}"}
    mine = client.post(f"/process/features/{tone}", json={"file": "t.wav"}, headers=headers)
    theirs = admin_client.post(f"/process/features/{tone}", json={"file": "t.wav"}, headers=headers)
    assert mine.status_code == theirs.status_code == 202, theirs.text
    assert theirs.json()["job_id"] != mine.json()["job_id"]
    again = admin_client.post(f"/process/features/{tone}", json={"file": "t.wav"}, headers=headers)
    assert again.json()["job_id"] == theirs.json()["job_id"]  # the admin's own retry: the admin's job
    assert client.post(f"/process/features/{tone}", json={"file": "t.wav"},
                       headers=headers).json()["job_id"] == mine.json()["job_id"]
    for job in (mine, theirs):
        assert client.get(f"/jobs/{job.json()['job_id']}?wait=60").json()["state"] == "succeeded"


def test_a_key_whose_request_died_is_not_held_for_the_day(app, client, tone):  # noqa: F811 (tone: the fixture)
    """A stranger killed the API between a request's claim of its key and the job: the key answered 409
    idempotency_key_in_use for 24 h, and the batch that owned it could not finish. The claim of a request
    in flight lapses after PENDING_SECONDS (the 409 says when), the key of a made job lasts the day."""
    from jobs.idempotency import PENDING_SECONDS, fingerprint

    svc = app.extensions["music_analyzer"]
    path, body = f"/process/features/{tone}", {"file": "t.wav"}
    dead = f"dead-{uuid.uuid4().hex}"
    claim = svc.idempotency.claim(owner=USER, key=dead, request_fingerprint=fingerprint("POST", path, body))
    busy = client.post(path, json=body, headers={"Idempotency-Key": dead})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "idempotency_key_in_use"
    assert 1 <= int(busy.headers["Retry-After"]) <= PENDING_SECONDS
    assert 0 < svc.redis.ttl(claim.redis_key) <= PENDING_SECONDS
    svc.redis.delete(claim.redis_key)  # what the lapse does, PENDING_SECONDS later
    made = client.post(path, json=body, headers={"Idempotency-Key": dead})
    assert made.status_code == 202
    assert svc.redis.ttl(claim.redis_key) > PENDING_SECONDS  # the made job's key: kept for the day


def test_a_reused_key_names_the_callers_own_first_request(app, client, admin_client, tone):  # noqa: F811 (tone)
    """The 422 names the method and path of the request that took the key and the job it made, or that it is still
    being handled; keys are the caller's, so an admin's 422 names the admin's own request, never the user's."""
    from jobs.idempotency import fingerprint

    key = f"named-{uuid.uuid4().hex}"
    features, pitch = f"/process/features/{tone}", f"/process/pitch/{tone}"
    mine = client.post(features, json={"file": "t.wav"}, headers={"Idempotency-Key": key})
    theirs = admin_client.post(pitch, json={"file": "t.wav"}, headers={"Idempotency-Key": key})
    assert mine.status_code == theirs.status_code == 202, theirs.text
    told = client.post(pitch, json={"file": "t.wav"}, headers={"Idempotency-Key": key}).json()["error"]
    assert told["code"] == "idempotency_key_reused" and f": POST {features}, which made job " in told["message"]
    assert told["details"]["first_request"] == {"method": "POST", "path": features, "job_id": mine.json()["job_id"]}
    admins = admin_client.post(features, json={"file": "t.wav"}, headers={"Idempotency-Key": key}).json()["error"]
    assert admins["details"]["first_request"] == {"method": "POST", "path": pitch,
                                                  "job_id": theirs.json()["job_id"]}, admins
    assert mine.json()["job_id"] not in admins["message"]
    # a key whose first request is still being handled: no job to name yet
    svc, busy = app.extensions["music_analyzer"], f"busy-{uuid.uuid4().hex}"
    claim = svc.idempotency.claim(owner=USER, key=busy, request_fingerprint=fingerprint("POST", pitch, {}),
                                  method="POST", path=pitch)
    try:
        held = client.post(features, json={"file": "t.wav"}, headers={"Idempotency-Key": busy}).json()["error"]
        assert held["message"].endswith(f": POST {pitch}, still being handled (no job yet); send a new key with a "
                                        "new request"), held
        assert held["details"] == {"first_request": {"method": "POST", "path": pitch, "job_id": None}}
    finally:
        svc.idempotency.release(claim)
    for job in (mine, theirs):
        assert client.get(f"/jobs/{job.json()['job_id']}?wait=120").json()["state"] == "succeeded"
