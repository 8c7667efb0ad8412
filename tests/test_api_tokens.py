"""API tokens (POST/GET /tokens, DELETE /tokens/<id>, `Authorization: Bearer`): a script's credentials in place of
its user's password, each revocable alone; real HTTP against the session's API, the tokens file in its DATA_DIR."""

from __future__ import annotations

import json
import os

import pytest
import redis
import requests
from music_analyzer_client import MusicAnalyzer, MusicAnalyzerError

from api_tokens import TOKEN_RE, TOKENS_FILE, TokenStore, TokensUnavailableError
from jobs import keys
from tests.conftest import ADMIN, OTHER, PASSWORD, USER
from tests.contract import assert_shape
from tests.test_cli import cli_env, ma


@pytest.fixture(autouse=True)
def forget_failures(settings):
    """This module's wrong and revoked tokens count against 127.0.0.1 as failed logins (their point): cleared after
    each test, so that the session's later tests of wrong passwords get their 401 and not a 429."""
    yield
    redis.Redis.from_url(settings["REDIS_URL"]).delete(keys.login_failures_by_address("127.0.0.1"))


def bearer(server: str, token: str, method: str = "GET", path: str = "/webhooks/secret", **kw) -> requests.Response:
    return requests.request(method, server + path, headers={"Authorization": f"Bearer {token}"}, timeout=60, **kw)


def make(client, name: str = "ci") -> dict:
    r = client.post("/tokens", json={"name": name})
    assert r.status_code == 201, r.text
    assert r.headers["Cache-Control"] == "no-store"
    assert_shape("TokenCreated", r.json())
    return r.json()


def test_a_token_stands_for_its_user_until_revoked(client, other_client, server):
    made = make(client, "ci runner")
    assert made["user"] == USER and made["name"] == "ci runner" and made["token"].startswith(f"ma_{made['id']}_")
    # the token acts as the user: their key, their sessions
    assert bearer(server, made["token"]).json()["user"] == USER
    sid = bearer(server, made["token"], "POST", "/sessions", json={}).json()["session_id"]
    assert client.get(f"/sessions/{sid}").status_code == 200
    assert other_client.get(f"/sessions/{sid}").status_code == 404
    # listed without its secret, for its user only
    listed = client.get("/tokens").json()
    assert_shape("TokenList", listed)
    mine = next(t for t in listed["tokens"] if t["id"] == made["id"])
    assert mine == {k: made[k] for k in ("id", "user", "name", "created_at")}
    assert made["id"] not in [t["id"] for t in other_client.get("/tokens").json()["tokens"]]
    # another user cannot revoke it; its user can, and from the next request on it is refused
    refused = other_client.delete(f"/tokens/{made['id']}")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "token_not_found"
    assert bearer(server, made["token"]).status_code == 200
    gone = client.delete(f"/tokens/{made['id']}")
    assert gone.status_code == 200 and gone.json() == {"id": made["id"], "revoked": True}
    after = bearer(server, made["token"])
    assert after.status_code == 401 and after.json()["error"]["code"] == "unauthorized"
    assert "revoked" in after.json()["error"]["message"]
    assert made["id"] not in [t["id"] for t in client.get("/tokens").json()["tokens"]]


def test_a_token_makes_no_token_but_lists_and_revokes(client, server):
    made = make(client)
    r = bearer(server, made["token"], "POST", "/tokens", json={"name": "more"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "password_required", r.text
    assert made["id"] in [t["id"] for t in bearer(server, made["token"], path="/tokens").json()["tokens"]]
    assert bearer(server, made["token"], "DELETE", f"/tokens/{made['id']}").status_code == 200
    assert bearer(server, made["token"], path="/tokens").status_code == 401


def test_an_admin_lists_and_revokes_a_users_tokens(client, other_client, admin_client, server):
    made = make(other_client, "other's app")
    listed = admin_client.get(f"/tokens?owner={OTHER}").json()["tokens"]
    assert made["id"] in [t["id"] for t in listed]
    assert client.get(f"/tokens?owner={OTHER}").status_code == 404  # an ordinary user names only themself
    assert admin_client.delete(f"/tokens/{made['id']}").status_code == 404  # not the admin's own token
    assert admin_client.delete(f"/tokens/{made['id']}?owner={OTHER}").status_code == 200
    assert bearer(server, made["token"]).status_code == 401
    assert make(admin_client)["user"] == ADMIN


@pytest.mark.parametrize("header", ["Bearer ma_0123456789ab_" + "A" * 43, "Bearer not-a-token", "Bearer ",
                                    "Bearer ma_../../etc_passwd"])
def test_wrong_tokens_are_401_with_no_details(server, header):
    for path in ("/sessions", "/health"):  # /health is open, but credentials sent are checked
        r = requests.get(server + path, headers={"Authorization": header}, timeout=30)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["error"]["code"] == "unauthorized" and "Traceback" not in r.text


def test_bad_requests_to_make_a_token(client):
    for body, code in (({}, "invalid_token_name"), ({"name": ""}, "invalid_token_name"),
                       ({"name": "x" * 101}, "invalid_token_name"), ({"name": "a\nb"}, "invalid_token_name"),
                       ({"name": 5}, "invalid_token_name"), ({"name": "ci", "scope": "all"}, "unknown_option")):
        r = client.post("/tokens", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == code, (body, r.text)
    assert client.post("/tokens", data="name=ci", headers={"Content-Type": "text/plain"}).status_code == 415
    assert client.delete("/tokens/not-an-id").json()["error"]["code"] == "token_not_found"


def test_every_process_on_the_data_directory_sees_a_revoke_at_once(client, server, settings):
    """Another API process is another TokenStore on the same file: what it revokes, this one refuses next."""
    made = make(client)
    elsewhere = TokenStore(settings["DATA_DIR"])
    assert elsewhere.user_of(made["token"]) == USER
    assert bearer(server, made["token"]).status_code == 200  # read (and remembered) by the server
    assert elsewhere.revoke(USER, made["id"])
    assert bearer(server, made["token"]).status_code == 401


def test_a_removed_users_token_is_refused(server, settings):
    """Tokens end with their user: one whose name left AUTH_USERS is refused though its entry is still there."""
    store = TokenStore(settings["DATA_DIR"])
    info, token = store.create("someone-removed", "old app")
    try:
        assert store.user_of(token) == "someone-removed"
        assert bearer(server, token).status_code == 401
    finally:
        store.revoke("someone-removed", info.id)


def test_the_file_keeps_digests_only_and_an_unreadable_file_is_never_written_over(tmp_path):
    store = TokenStore(tmp_path)
    info, token = store.create(USER, "ci")
    kept = (tmp_path / TOKENS_FILE).read_text()
    assert token.split("_", 2)[2] not in kept and json.loads(kept)["tokens"][info.id]["user"] == USER
    assert os.stat(tmp_path / TOKENS_FILE).st_mode & 0o777 == 0o600
    (tmp_path / TOKENS_FILE).write_text(kept[:-20])  # a hand edit gone wrong
    assert store.user_of(token) is None  # refused, not guessed at
    with pytest.raises(TokensUnavailableError):
        store.create(USER, "another")
    assert (tmp_path / TOKENS_FILE).read_text() == kept[:-20]  # its tokens are still there to be mended


def test_a_token_that_passed_here_is_not_locked_out_by_a_flood_of_wrong_ones(client, server, app):
    """As for passwords: wrong logins from a shared address lock out strangers, not a token already known there."""
    made = make(client)
    assert bearer(server, made["token"]).status_code == 200
    wrong = "ma_0123456789ab_" + "B" * 43
    answers = [bearer(server, wrong).status_code for _ in range(int(app.config["LOGIN_FAILURE_LIMIT"]) + 1)]
    assert answers[-1] == 429 and set(answers) == {401, 429}, answers
    assert make(client, "fresh")["token"]  # the user's password, known here, still logs in
    assert bearer(server, made["token"]).status_code == 200


def test_the_client_and_the_command_line_use_a_token(server, celery_worker, tmp_path):
    """What a script's author does: make a token once with the password, then run with MA_TOKEN and no password."""
    env = cli_env(server, tmp_path)
    made = ma(env, "token", "create", "nightly batch")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert TOKEN_RE.match(token) and made.stdout == token + "\n" and "shown this once" in made.stderr
    with MusicAnalyzer(server, token=token) as client:
        assert client.webhook_secret() == requests.get(server + "/webhooks/secret", auth=(USER, PASSWORD),
                                                       timeout=30).json()["secret"]
        sid = client.create_session()
        [listed] = [t for t in client.tokens.list() if token.startswith(f"ma_{t['id']}_")]
        with pytest.raises(MusicAnalyzerError) as refused:
            client.tokens.create("more")
        assert refused.value.code == "password_required" and refused.value.status == 403
    with_token = {k: v for k, v in env.items() if k not in ("MA_USER", "MA_PASSWORD")} | {"MA_TOKEN": token}
    sessions = ma(with_token, "sessions", "--json")
    assert sessions.returncode == 0 and sid in sessions.stdout, sessions.stderr
    assert listed["name"] == "nightly batch" and listed["id"] in ma(with_token, "token", "list").stdout
    revoked = ma(with_token, "token", "revoke", listed["id"])
    assert revoked.returncode == 0 and "revoked" in revoked.stderr, revoked.stderr
    after = ma(with_token, "sessions")
    assert after.returncode == 3 and "401" not in after.stdout, (after.stdout, after.stderr)
    # the hint names what was sent: it had said "log in with `music-analyzer login`, or set MA_USER and MA_PASSWORD"
    # to a script whose MA_TOKEN had been revoked
    assert "MA_TOKEN" in after.stderr and "token create" in after.stderr and "MA_PASSWORD" not in after.stderr


def test_a_token_id_that_cannot_be_one_is_refused_before_any_request(server, celery_worker, tmp_path):
    """`token revoke ../x` had reached the front as a path no route serves: Flask's "The requested URL was not found
    on the server. If you entered the URL manually please check your spelling and try again" (exit 1)."""
    env = cli_env(server, tmp_path)
    for bad in ("../x", "a/b", "", "x" * 65):
        refused = ma(env, "token", "revoke", bad)
        assert refused.returncode == 2 and "is not a token id" in refused.stderr, (bad, refused.stderr)
    with MusicAnalyzer(server, USER, PASSWORD) as client, pytest.raises(MusicAnalyzerError) as caught:
        client.tokens.revoke("../x")
    assert caught.value.code == "invalid_token_id" and caught.value.status is None
    unknown = ma(env, "token", "revoke", "0123456789ab")  # the form of one: the server says it has none
    assert unknown.returncode == 1 and "no token '0123456789ab' of yours" in unknown.stderr, unknown.stderr
