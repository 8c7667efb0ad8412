"""Each user's own webhook key (GET /webhooks/secret): every delivery of their jobs is signed with it beside the
shared key, so a receiver verifying with it takes no delivery another user signed. With the shared key alone,
every user who was handed it to verify their deliveries could forge one to another user's receiver."""

from __future__ import annotations

import json

import requests
from music_analyzer_client import MusicAnalyzer, verify_webhook

from jobs.webhook_signing import key_bytes, secret_key, sign, user_secret_text, verify
from tests.audio_synth import sine, write
from tests.conftest import ADMIN, OTHER, PASSWORD, USER, WEBHOOK_SECRET
from tests.contract import assert_shape
from tests.test_api_contract import Receiver
from tests.test_api_sessions import upload
from tests.test_cli import cli_env, ma


def own_key(client) -> bytes:
    r = client.get("/webhooks/secret")
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    assert_shape("WebhookSecret", r.json())
    return key_bytes(r.json()["secret"])


def completed_delivery(client, session_id, audio_dir, name: str) -> dict:
    """Run a features job of `client`'s user with a webhook to a real receiver; its completion delivery."""
    upload(client, session_id, write(audio_dir / name, sine(330, 1.0)))
    receiver = Receiver()
    try:
        r = client.post(f"/process/features/{session_id}", json={"file": name, "webhook": receiver.url,
                                                                  "webhook_events_filter": ["completed"]})
        assert r.status_code == 202, r.text
        [delivery] = receiver.wait(lambda ds: len(ds) == 1)
    finally:
        receiver.close()
    assert json.loads(delivery["body"])["type"] == "job.completed"
    return delivery


def test_each_users_deliveries_verify_with_their_own_key_and_no_other_users(client, other_client, audio_dir,
                                                                           settings):
    sessions = []
    for c in (client, other_client):
        r = c.post("/sessions", json={})
        assert r.status_code == 201, r.text
        sessions.append(r.json()["session_id"])
    mine = completed_delivery(client, sessions[0], audio_dir, "mine.wav")
    theirs = completed_delivery(other_client, sessions[1], audio_dir, "theirs.wav")
    my_key, their_key = own_key(client), own_key(other_client)
    assert my_key != their_key
    shared = secret_key({"WEBHOOK_SECRET": WEBHOOK_SECRET, "DATA_DIR": settings["DATA_DIR"]})
    assert shared not in (my_key, their_key)

    assert verify(my_key, mine["headers"], mine["body"])
    assert verify(their_key, theirs["headers"], theirs["body"])
    # the other user's key verifies neither the delivery of my job nor one they sign to look like it
    assert not verify(their_key, mine["headers"], mine["body"])
    forged = {**mine["headers"], "webhook-signature": sign(their_key, mine["headers"]["webhook-id"],
                                                           int(mine["headers"]["webhook-timestamp"]), mine["body"])}
    assert not verify(my_key, forged, mine["body"])
    # receivers set up with the shared key go on verifying both (the first of the two signatures)
    assert verify(shared, mine["headers"], mine["body"]) and verify(shared, theirs["headers"], theirs["body"])
    assert len(mine["headers"]["webhook-signature"].split()) == 2


def test_the_key_route_answers_for_the_caller_and_an_admins_pick_only(client, other_client, admin_client):
    mine = client.get("/webhooks/secret").json()
    assert mine["user"] == USER
    assert client.get("/webhooks/secret").json() == mine  # derived, the same at every call
    # an admin reads a user's key to set up their receiver; an ordinary user reaches no one else's
    picked = admin_client.get(f"/webhooks/secret?owner={USER}")
    assert picked.status_code == 200 and picked.json() == mine
    assert admin_client.get("/webhooks/secret").json()["user"] == ADMIN
    refused = other_client.get(f"/webhooks/secret?owner={USER}")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "owner_not_found", refused.text
    assert other_client.get(f"/webhooks/secret?owner={OTHER}").json()["user"] == OTHER
    bad = client.get("/webhooks/secret?user=admin")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_filter"
    assert requests.get(client.base + "/webhooks/secret", timeout=30).status_code == 401  # no credentials


def test_a_users_key_follows_the_shared_key(tmp_path):
    """Derived from the shared key, not stored: rotating WEBHOOK_SECRET rotates every user's key, and the same
    shared key gives every worker and API process the same user keys (no file to keep in step)."""
    before = {"WEBHOOK_SECRET": "whsec_" + "A" * 43 + "=", "DATA_DIR": str(tmp_path)}
    after = {**before, "WEBHOOK_SECRET": "another shared key"}
    assert user_secret_text(before, USER) == user_secret_text(dict(before), USER)
    assert user_secret_text(before, USER) != user_secret_text(after, USER)
    assert user_secret_text(before, USER) != user_secret_text(before, OTHER)
    assert key_bytes(user_secret_text(before, USER)) != secret_key(before)


def test_the_client_gets_the_key_and_verifies_a_delivery_with_it(client, other_client, server, audio_dir, tmp_path):
    """What a receiver's developer does: the key from the client (or `music-analyzer webhook-secret`), then
    verify_webhook on each delivery's raw headers and body."""
    session_id = client.post("/sessions", json={}).json()["session_id"]
    delivery = completed_delivery(client, session_id, audio_dir, "client.wav")
    with MusicAnalyzer(server, USER, PASSWORD) as ma_client:
        secret = ma_client.webhook_secret()
    printed = ma(cli_env(server, tmp_path), "webhook-secret")
    assert printed.returncode == 0 and printed.stdout == secret + "\n", printed.stderr
    headers = {k.title(): v for k, v in delivery["headers"].items()}  # as a framework hands them over
    assert verify_webhook(secret, headers, delivery["body"])
    assert not verify_webhook(secret, headers, delivery["body"] + b" ")  # the body is signed
    stamp = int(delivery["headers"]["webhook-timestamp"])
    assert not verify_webhook(secret, headers, delivery["body"], now=stamp + 301)  # a replay is stale
    assert not verify_webhook(other_client.get("/webhooks/secret").json()["secret"], headers, delivery["body"])
