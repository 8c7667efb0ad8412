"""Request plumbing every route shares: request ids, security headers, body rules, errors without internals."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import uuid
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator

from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER
from tests.test_api_sessions import upload


@pytest.fixture()
def tone_session(client, session_id, audio_dir):
    upload(client, session_id, write(audio_dir / "tone.wav", sine(440, 0.5)))
    return session_id


def test_every_response_carries_a_request_id_and_security_headers(client, tone_session):
    r = client.get(f"/sessions/{tone_session}", headers={"X-Request-ID": "client-chosen-id-42"})
    assert r.headers["X-Request-ID"] == "client-chosen-id-42"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    generated = client.get("/sessions/no_such_session", headers={"X-Request-ID": "bad id; with spaces"})
    assert generated.status_code == 404 and len(generated.headers["X-Request-ID"]) == 32
    assert generated.json()["error"]["code"]
    download = client.get(f"/sessions/{tone_session}/files/tone.wav")
    assert download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert download.headers["Content-Disposition"].startswith("attachment")
    inline = client.get(f"/sessions/{tone_session}/files/tone.wav?inline=1")
    assert inline.headers["Content-Disposition"].startswith("inline")


def test_the_jobs_a_request_makes_carry_its_id(client, tone_session):
    r = client.post(f"/process/features/{tone_session}", json={"file": "tone.wav"},
                    headers={"X-Request-ID": "trace-me-1234"})
    assert r.headers["X-Request-ID"] == "trace-me-1234"
    assert client.wait_job(r.json()["job_id"])["request_id"] == "trace-me-1234"


def test_a_body_that_is_not_json_is_refused_not_ignored(client, tone_session):
    """A new user's first accident: form-encoded options silently ran a batch over every upload."""
    r = client.post(f"/process/features/{tone_session}", data={"file": "tone.wav"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_content_type"
    r = client.post(f"/process/pitch/{tone_session}", data='{"file": "tone.wav"}',
                    headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert client.post(f"/process/features/{tone_session}").status_code == 202  # no body at all: a batch


def test_json_nested_thousands_deep_is_a_400(client, tone_session):
    """Nested too deeply to read, or malformed: said to be no valid JSON (both had read "must be a JSON object", as
    a list or a string is told)."""
    deep = '{"file": "tone.wav", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    for body, says in ((deep, "not valid JSON"), ('{"file": "tone.wav",', "not valid JSON"),
                       ('["tone.wav"]', "must be a JSON object")):
        r = client.post(f"/process/pitch/{tone_session}", data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.text
        assert says in r.json()["error"]["message"], r.text


@pytest.mark.parametrize(("path", "body"), [
    ("/process/pitch/{sid}", '{"file": "\\ud800.wav"}'),  # a file name (safe_name could not encode it: a 500)
    ("/api/v2/models/generate", '{"prompt": "a \\ud800 b", "max_length": 5}'),  # a job whose tokenizer crashed
    ("/api/v2/models/generate", '{"messages": [{"role": "user", "content": "\\udfff"}], "max_length": 5}'),
    ("/library/ask", '{"question": "\\ud800 what?"}'),
    ("/process/features/{sid}", '{"\\ud800": 1}'),  # a key
])
def test_a_lone_surrogate_escape_is_a_400_on_every_route(client, tone_session, path, body):
    """JSON's \\uXXXX escapes can spell half of a surrogate pair, which is no character (a stranger's 500s)."""
    r = client.post(path.format(sid=tone_session), data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.text
    assert "surrogate" in r.json()["error"]["message"]
    paired = client.post(f"/process/pitch/{tone_session}", data='{"file": "\\ud83c\\udfb5.wav"}',
                         headers={"Content-Type": "application/json"})  # a valid pair is a character: no such file
    assert paired.status_code == 404 and paired.json()["error"]["code"] == "file_not_found"


def test_an_unexpected_error_shows_no_internals_and_is_logged_with_the_request_id(settings, caplog):
    from werkzeug.test import Client as WClient

    from app import create_app

    app = create_app({**settings, "AUTH_DISABLED": True})

    @app.get("/boom")
    def boom():
        raise OSError(5, "Input/output error", "/secret/spool/path.part")  # (a full disk is a 507: test_disk_full)

    with caplog.at_level(logging.ERROR):
        r = WClient(app).get("/boom", headers={"X-Request-ID": "report-me-5678"})
    body = r.get_json()
    assert r.status_code == 500 and body["error"]["code"] == "internal_error"
    assert "/secret" not in body["error"]["message"] and "OSError" not in body["error"]["message"]
    assert "report-me-5678" in body["error"]["message"]
    assert any("report-me-5678" in rec.getMessage() and rec.exc_info for rec in caplog.records)


def test_an_unknown_key_or_parameter_is_named_not_ignored(client):
    """A stranger's `{"session_id": "ok1", "zzz": 1}` made a session and `GET /sessions?foo=1` listed them all, where
    the other routes name what they do not read."""
    r = client.post("/sessions", json={"sessionid": "misspelt-id", "zzz": 1})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "unknown_option" and error["details"]["unknown"] == ["sessionid", "zzz"]
    assert error["details"]["valid"] == ["session_id"] and client.get("/sessions/misspelt-id").status_code == 404
    listed = client.get("/sessions", params={"foo": "1", "limit": "5"})
    assert listed.status_code == 400 and listed.json()["error"]["code"] == "invalid_filter", listed.text
    assert listed.json()["error"]["details"]["unknown"] == ["foo"]
    assert client.get("/sessions", params={"limit": "5", "cursor": ""}).status_code == 200


def test_a_whole_number_written_as_a_float_is_the_integer_the_description_asks_for(client, tone_session):
    """JSON has one number type and JSON Schema calls 1.0 an integer: the description's `type: integer` options take
    it (a client that writes every number as a double had got 400 "shifts must be an integer"); 1.5 stays a 400."""
    r = client.post(f"/process/demucs/{tone_session}", json={"file": "tone.wav", "model": "hpss", "shifts": 1.0})
    assert r.status_code == 202, r.text
    assert client.wait_job(r.json()["job_id"])["state"] == "succeeded"
    r = client.post(f"/process/demucs/{tone_session}", json={"file": "tone.wav", "model": "hpss", "shifts": 1.5})
    assert r.status_code == 400 and r.json()["error"]["details"]["option"] == "shifts", r.text


def test_an_empty_session_filter_is_refused_not_read_as_no_filter(client, tone_session):
    """`GET /jobs?session_id=` (a client's unset variable) had listed every job of the caller, and the library's
    tracks listing the whole library: an empty id is no session id (the description's pattern says 1-64)."""
    r = client.post(f"/process/features/{tone_session}", json={"file": "tone.wav"})
    assert r.status_code == 202, r.text
    for path in ("/jobs", "/library/tracks"):
        empty = client.get(path, params={"session_id": ""})
        assert empty.status_code == 400 and empty.json()["error"]["code"] == "invalid_session_id", (path, empty.text)
        assert client.get(path, params={"session_id": tone_session}).status_code == 200
    client.wait_job(r.json()["job_id"])


def test_an_empty_session_id_is_refused_and_null_is_a_new_id(client):
    """`POST /sessions {"session_id": ""}` had made a session of a random id, as if none had been asked for, while the
    description's pattern says 1-64 characters; null stays "a new random id", as a null option is its default."""
    r = client.post("/sessions", json={"session_id": ""})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_session_id", r.text
    made = client.post("/sessions", json={"session_id": None})
    assert made.status_code == 201 and len(made.json()["session_id"]) == 16, made.text
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/sessions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator(body)
    assert not validator.is_valid({"session_id": ""}) and validator.is_valid({"session_id": None})


def test_an_error_quotes_back_at_most_a_short_cut_of_what_was_sent(client, tone_session):
    """A 404 had echoed a 3,000-character job id whole (a fuzzer's find): a value quoted back is cut to 80."""
    long = "x" * 3000
    for path, code in ((f"/jobs/{long}", "job_not_found"), (f"/library/tracks/{long}", "track_not_found"),
                       (f"/sessions/{tone_session}/files/{long}.wav", "file_not_found"),
                       (f"/jobs?owner={long}", "owner_not_found")):
        r = client.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == code, (path[:60], r.text[:300])
        message = r.json()["error"]["message"]
        assert "x" * 80 + "…" in message and len(message) < 200, message
    short = client.get("/jobs/abc123").json()["error"]["message"]
    assert short == "no job 'abc123'"  # a short one is quoted whole, as before


def test_an_admins_owner_too_long_for_a_folder_name_is_not_found(admin_client, tone_session):
    """An admin's `?owner=` of 5,000 characters was a 500 on every route that takes it (`GET /sessions/x`,
    `POST /process/...`, `/tokens`, `/library/reindex`: a stranger's fuzzing): the API looked for that user's folder,
    and the name was too long for one (ENAMETOOLONG). No user can have such a folder: 404 as any unknown owner."""
    for owner in ("x" * 5000, "é" * 200):
        for method, path in (("get", f"/sessions/{tone_session}"), ("get", "/tokens"), ("post", "/library/reindex"),
                             ("post", f"/process/features/{tone_session}")):
            body = {"json": {}} if method == "post" else {}
            r = getattr(admin_client, method)(path, params={"owner": owner}, **body)
            assert r.status_code == 404 and r.json()["error"]["code"] == "owner_not_found", (path, r.text[:300])


def test_latin_letters_without_a_decomposition_are_spelt_not_dropped(client, session_id, audio_dir):
    """A stranger's `Ünïcødé` upload was stored as `Unicde`: ø, æ, ß, ł and the like have no base letter in
    Unicode's decomposition, and the ASCII step dropped them."""
    src = write(audio_dir / "latin.wav", sine(440, 0.5))
    with open(src, "rb") as fh:
        r = client.post(f"/sessions/{session_id}/files", files=[("file", ("Ünïcødé Straße Łódź Æther.wav", fh))])
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["name"] == "Unicode_Strasse_Lodz_AEther.wav"


def test_a_path_no_route_matches_is_named_and_a_wrong_method_lists_the_allowed(client, tone_session):
    """`GET /nosuch` and `POST /sessions/x/nosuch` had Werkzeug's "The requested URL was not found on the server. If
    you entered the URL manually..." and a wrong method "The method is not allowed for the requested URL.": which
    request was meant, cut to 200 characters, and for a 405 the methods the path takes (the Allow header stays)."""
    for method, path in (("GET", "/nosuch"), ("POST", f"/sessions/{tone_session}/nosuch")):
        r = getattr(client, method.lower())(path)
        assert r.status_code == 404 and r.headers["Content-Type"] == "application/json", r.text
        assert r.json()["error"] == {"code": "not_found", "message": f"no such path: {method} {path}"}
    long = client.get("/" + "n" * 5000).json()["error"]["message"]
    assert long == "no such path: GET /" + "n" * 199 + "…"
    refused = client.delete("/health")
    assert refused.status_code == 405 and sorted(refused.headers["Allow"].split(", ")) == ["GET", "HEAD", "OPTIONS"]
    assert refused.json()["error"] == {"code": "method_not_allowed",
                                       "message": "DELETE is not allowed on /health; it takes GET, HEAD, OPTIONS",
                                       "details": {"allowed": ["GET", "HEAD", "OPTIONS"]}}
    assert client.get("/jobs/abc123").json()["error"]["code"] == "job_not_found"  # a route's own 404 is kept


def post_with_headers(base: str, path: str, body: bytes, headers: list[tuple[str, str]]) -> tuple[int, dict]:
    """A POST whose headers may repeat a name (requests folds a dict), over a real socket."""
    conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=60)
    try:
        conn.putrequest("POST", path)
        credentials = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        for name, value in [("Authorization", f"Basic {credentials}"), ("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))), *headers]:
            conn.putheader(name, value)
        conn.endheaders(body)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def test_two_idempotency_keys_on_one_request_are_refused(client, server, tone_session):
    """Two `Idempotency-Key` headers reach the app joined by a comma ("a,b"), and had been taken as that one key: the
    request made a job, and a later one sending "a,b" got it back. Refused (before any job), as is a comma in one."""
    first, second = f"a-{uuid.uuid4().hex}", f"b-{uuid.uuid4().hex}"
    path, body = f"/process/features/{tone_session}", b'{"file": "tone.wav", "picture": false}'
    for keys in ([first, second], [f"{first},{second}"]):
        status, answer = post_with_headers(server, path, body, [("Idempotency-Key", key) for key in keys])
        assert status == 400 and answer["error"]["code"] == "invalid_idempotency_key", answer
        assert "one Idempotency-Key" in answer["error"]["message"]
    status, made = post_with_headers(server, path, body, [("Idempotency-Key", first)])  # one key: as before
    assert status == 202, made
    assert client.wait_job(made["job_id"])["state"] == "succeeded"


def test_a_query_parameter_given_twice_is_refused_naming_it(client, tone_session):
    """`?limit=1&limit=5` had listed one session and `?wait=1&wait=2` waited 1 s: every route read the first value and
    ignored the rest without a word. A 400 naming the parameter, under its own code where it has one; GET /jobs'
    comma lists may still repeat (`?state=queued&state=succeeded`)."""
    job = client.post(f"/process/features/{tone_session}", json={"file": "tone.wav", "picture": False}).json()
    for path, name, code in (("/sessions?limit=1&limit=5", "limit", "invalid_limit"),
                             (f"/jobs/{job['job_id']}?wait=1&wait=2", "wait", "invalid_wait"),
                             (f"/sessions/{tone_session}/files/tone.wav?inline=1&inline=1", "inline",
                              "invalid_request"),
                             ("/library/tracks?tempo_min=60&tempo_min=200", "tempo_min", "invalid_request")):
        r = client.get(path)
        assert r.status_code == 400, (path, r.text)
        error = r.json()["error"]
        assert (error["code"], error["details"]) == (code, {"parameter": name}), (path, error)
        assert f"'{name}' is given 2 times" in error["message"]
    done = client.wait_job(job["job_id"])
    listed = client.get("/jobs", params=[("session_id", tone_session), ("state", "queued"), ("state", "succeeded")])
    assert listed.status_code == 200 and [j["job_id"] for j in listed.json()["jobs"]] == [done["job_id"]], listed.text
