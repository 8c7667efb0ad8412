"""POST /webhooks/check: whether a job-creating request would take a webhook, asked before anything is uploaded (a
CLI run had uploaded its files, then had every job refused for its URL), over real HTTP with the tests'
WEBHOOK_ALLOWED_HOSTS (127.0.0.1); and the CLI asking it first."""

from __future__ import annotations

import re

import pytest
import requests
from music_analyzer_client import MusicAnalyzer, MusicAnalyzerError

from tests.conftest import PASSWORD, USER
from tests.test_cli import ma
from tests.test_cli_webhook import env, unique_wav  # noqa: F401 (env: a fixture)


def test_an_allowed_webhook_is_answered_with_what_its_jobs_would_get(client):
    r = client.post("/webhooks/check", json={"webhook": "http://127.0.0.1:9/hook"})
    assert r.status_code == 200 and r.json() == {"webhook": "http://127.0.0.1:9/hook",
                                                 "events": ["start", "progress", "completed"]}
    r = client.post("/webhooks/check", json={"webhook": "http://127.0.0.1:9/hook",
                                             "webhook_events_filter": ["completed", "start"]})
    assert r.json()["events"] == ["start", "completed"]  # in the order deliveries come


@pytest.mark.parametrize(("body", "code"), [
    ({"webhook": "http://10.0.0.5/hook"}, "webhook_not_allowed"),
    ({"webhook": "ftp://127.0.0.1/hook"}, "invalid_webhook"),
    ({"webhook": None}, "invalid_webhook"),
    ({}, "invalid_webhook"),
    ({"webhook_events_filter": ["completed"]}, "invalid_webhook"),
    ({"webhook": "http://127.0.0.1:9/x", "webhook_events_filter": ["finished"]}, "invalid_webhook"),
    ({"webhook": "http://127.0.0.1:9/x", "url": "http://127.0.0.1:9/x"}, "unknown_option"),
])
def test_what_a_job_would_refuse_is_the_same_400(client, body, code):
    r = client.post("/webhooks/check", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    assert "Traceback" not in r.text and "/tmp" not in r.text


def test_it_needs_credentials_and_a_json_body(server, client):
    assert requests.post(f"{server}/webhooks/check", json={"webhook": "http://127.0.0.1:9/x"}).status_code == 401
    assert client.post("/webhooks/check", data="webhook=x",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 415


def test_the_python_client_checks_a_webhook(server):
    api = MusicAnalyzer(server, USER, PASSWORD)
    assert api.check_webhook("http://127.0.0.1:9/x", ["completed"])["events"] == ["completed"]
    with pytest.raises(MusicAnalyzerError) as refused:
        api.check_webhook("http://10.0.0.5/hook")
    assert refused.value.code == "webhook_not_allowed" and refused.value.status == 400


def test_analyze_asks_before_it_makes_a_session_or_uploads(env, tmp_path, client):  # noqa: F811
    """A URL the server refuses ends the run before any session or upload (exit 2, the server's error)."""
    before = {s["session_id"] for s in client.get("/sessions", params={"limit": 1000}).json()["sessions"]}
    unique_wav(tmp_path / "no.wav")
    refused = ma(env, "analyze", "no.wav", "--features", "--webhook", "http://10.0.0.5/hook", cwd=tmp_path)
    assert refused.returncode == 2 and "webhook_not_allowed" in refused.stderr, refused.stderr
    assert "uploaded" not in refused.stderr and not re.search(r"session [0-9a-f]{16}", refused.stderr)
    after = {s["session_id"] for s in client.get("/sessions", params={"limit": 1000}).json()["sessions"]}
    assert after == before


def test_an_empty_body_and_a_server_with_webhooks_off_say_so(client):
    """`{}` had read "webhook must be an http(s) URL", and a server with no WEBHOOK_ALLOWED_HOSTS (the default)
    "webhook host 'hooks.example.net' port 443 is not allowed by WEBHOOK_ALLOWED_HOSTS": a stranger's trial took
    both for a mistyped URL."""
    from jobs.webhook_hosts import check_host
    from worker.errors import InvalidRequestError

    r = client.post("/webhooks/check", json={})
    assert r.status_code == 400 and "names no webhook" in r.json()["error"]["message"], r.text
    with pytest.raises(InvalidRequestError, match="webhooks are off on this server") as off:
        check_host("hooks.example.net", 443, {"WEBHOOK_ALLOWED_HOSTS": ""}, resolve=False)
    assert off.value.code == "webhook_not_allowed"
    with pytest.raises(InvalidRequestError, match="host 'hooks.example.net' port 443 is not allowed"):
        check_host("hooks.example.net", 443, {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}, resolve=False)
