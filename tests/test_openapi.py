"""The OpenAPI description: valid OpenAPI 3.1, one operation per route (no route undescribed), request bodies
that are the options classes' own schemas, every error code documented, real answers matching their
schemas, and the docs page served without credentials from local files only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import requests
from flask import Flask
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from api.errors import _HTTP_CODES
from api.openapi.build import UndescribedRouteError, build_spec, openapi_path, route_keys, spec_for
from api.openapi.catalog import ERROR_CODES
from api.openapi.operations import OPERATIONS
from tests.audio_synth import sine, write
from tests.contract import assert_shape
from tests.test_api_sessions import upload
from worker.errors import InvalidRequestError

ROOT = Path(__file__).resolve().parents[1]


def test_the_served_description_is_valid_openapi_3_1(server, app):
    r = requests.get(f"{server}/openapi.json", timeout=30)  # no credentials
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.headers["X-Request-ID"]
    spec = r.json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # openapi-spec-validator: the 3.1 schema, and every $ref resolves
    assert spec == spec_for(app)


def test_every_route_is_described_and_every_description_is_a_route(app):
    served = dict(route_keys(app))
    assert set(served) <= set(OPERATIONS), "undescribed routes (build_spec refuses them)"
    assert set(OPERATIONS) <= set(served), "declarations of routes the app does not have"
    paths = spec_for(app)["paths"]
    for key in served:
        method, rule = key.split(" ", 1)
        assert method.lower() in paths[openapi_path(rule)], key


def test_a_route_without_a_declaration_fails_the_build():
    bare = Flask("bare", static_folder=None)
    bare.add_url_rule("/new", "new", lambda: "x")
    with pytest.raises(UndescribedRouteError, match="GET /new"):
        build_spec(bare)


def option_bodies(app):
    """(operation key, operation, its request body's schema) for each route that takes options."""
    paths = spec_for(app)["paths"]
    for key, op in OPERATIONS.items():
        if op.options is not None:
            method, rule = key.split(" ", 1)
            yield key, op, paths[openapi_path(rule)][method.lower()]["requestBody"]["content"]["application/json"][
                "schema"]


def test_request_bodies_are_the_options_declarations(app):
    paths = spec_for(app)["paths"]
    checked = 0
    for key, op, body in option_bodies(app):
        own = op.options.json_schema(settings=app.config)["properties"]
        assert set(body["properties"]) == set(own) | set(op.body_keys), key
        assert all(body["properties"][name] == schema for name, schema in own.items()), key
        assert body["additionalProperties"] is False  # unknown keys are a 400, as from_request says
        (example,) = body["examples"]  # every options route shows one on the docs page; the options accept it
        Draft202012Validator(body).validate(example)
        op.options.from_request({k: v for k, v in example.items() if k not in op.body_keys}, settings=app.config)
        checked += 1
    assert checked == 14  # eight /process routes, three model routes, the probe, library ask and reindex
    demucs = paths["/process/demucs/{session_id}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    overlap = demucs["properties"]["overlap"]
    assert (overlap["minimum"], overlap["maximum"], overlap["default"]) == (0.0, 0.9, 0.25)
    assert {"hpss", "repet", "htdemucs"} <= set(demucs["properties"]["model"]["enum"])


def test_the_pitch_include_schema_takes_what_the_route_takes(app):
    """A stranger read `include: type array, minItems 1` and found that "key" alone was accepted (202): the
    schema now says one name or a list, and refuses what the route refuses."""
    from jsonschema.exceptions import ValidationError

    from worker.music.options import PitchOptions

    paths = spec_for(app)["paths"]
    body = paths["/process/pitch/{session_id}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    for good in ({"include": "key"}, {"include": ["key", "tempo"]}):
        Draft202012Validator(body).validate(good)
        PitchOptions.from_request(good)
    for bad in ({"include": "nope"}, {"include": []}, {"include": ["key", "key"]}, {"include": 3}):
        with pytest.raises(ValidationError):
            Draft202012Validator(body).validate(bad)
        with pytest.raises(InvalidRequestError):
            PitchOptions.from_request(bad)


def test_a_null_option_is_its_default_in_the_schema_as_on_the_route(app):
    """from_request reads a null as the option's default; the schemas had refused null for every option whose
    default is not None (a client validating its body against the spec could not send what the route takes)."""
    from jsonschema.exceptions import ValidationError

    checked = 0
    for key, op, body in option_bodies(app):
        (example,) = body["examples"]
        required = set(body.get("required", ()))
        for name in op.options.json_schema(settings=app.config)["properties"]:
            nulled = {**example, name: None}
            if name in required:  # a required option null is a 400 naming it, and the schema refuses it too
                with pytest.raises(ValidationError):
                    Draft202012Validator(body).validate(nulled)
                with pytest.raises(InvalidRequestError):
                    op.options.from_request({k: v for k, v in nulled.items() if k not in op.body_keys},
                                            settings=app.config)
                continue
            Draft202012Validator(body).validate(nulled)
            # the route reads the null as the key left out: the same options, or the same refusal (generate's
            # prompt left out, with no messages either, is one)
            outcomes = []
            for sent in (nulled, {k: v for k, v in example.items() if k != name}):
                try:
                    outcomes.append(op.options.from_request({k: v for k, v in sent.items() if k not in op.body_keys},
                                                            settings=app.config).to_dict())
                except InvalidRequestError as e:
                    outcomes.append(e.message)
            assert outcomes[0] == outcomes[1], (key, name)
            checked += 1
    assert checked > 50


def raised_codes() -> set[str]:
    """Every error code in the service's code: `code = "x"` in a class, `code="x"` in a call, `"code": "x"` in a
    job's error dict, and error_response(status, "x", ...)."""
    codes = set(_HTTP_CODES.values()) | {"http_error"}
    files = [p for d in ("api", "jobs", "worker", "library") for p in (ROOT / d).rglob("*.py")]
    files += sorted(ROOT.glob("*.py"))  # every top-level module (a fixed list had missed a new one's codes)
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            codes.update(_codes_in(node))
    return codes


def _codes_in(node: ast.AST) -> list[str]:
    def text(v: ast.AST | None) -> list[str]:
        return [v.value] if isinstance(v, ast.Constant) and isinstance(v.value, str) else []

    if isinstance(node, ast.ClassDef):
        return [c for s in node.body if isinstance(s, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "code" for t in s.targets) for c in text(s.value)]
    if isinstance(node, ast.Call):
        found = [c for kw in node.keywords if kw.arg == "code" for c in text(kw.value)]
        if isinstance(node.func, ast.Name) and node.func.id == "error_response" and len(node.args) > 1:
            found += text(node.args[1])
        return found
    if isinstance(node, ast.Dict):
        return [c for k, v in zip(node.keys, node.values, strict=True) if k is not None and text(k) == ["code"]
                for c in text(v)]
    return []


def test_every_error_code_the_code_raises_is_documented(app):
    codes = raised_codes()
    assert {"session_busy", "too_many_attempts", "worker_lost", "unknown_option", "redis_unavailable"} <= codes
    missing = sorted(codes - set(ERROR_CODES))
    assert not missing, f"add these to api/openapi/catalog.py: {missing}"
    described = spec_for(app)["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
    assert all(f"`{code}`" in described["description"] for code in ERROR_CODES)


def test_the_docs_page_is_public_and_loads_only_local_files(server):
    r = requests.get(f"{server}/docs", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert "http://" not in r.text and "https://" not in r.text and '"/openapi.json"' in r.text
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert len(refs) == 4 and all(ref.startswith("/docs/") for ref in refs)
    types = {"js": "text/javascript", "css": "text/css", "png": "image/png"}
    for ref in refs:
        asset = requests.get(f"{server}{ref}", timeout=30)
        assert asset.status_code == 200 and len(asset.content) > 200, ref
        assert asset.headers["Content-Type"].startswith(types[ref.rsplit(".", 1)[1]]), ref
    bundle = requests.get(f"{server}/docs/swagger-ui-bundle.js", timeout=30).text
    assert "SwaggerUIBundle" in bundle and "3.1" in bundle  # Swagger UI 5: reads OpenAPI 3.1
    for bad in ("nothing.js", "index.template.html", "VERSION"):  # only the page's own files
        missing = requests.get(f"{server}/docs/{bad}", timeout=30)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found", bad
    assert requests.get(f"{server}/docs/..%2Fapp.py", timeout=30).status_code in (401, 404)  # no route: no file


def test_live_answers_match_their_schemas(client, session_id, audio_dir):
    r = upload(client, session_id, write(audio_dir / "a.wav", sine(440, 0.6)), write(audio_dir / "b.wav",
                                                                                    sine(220, 0.6)))
    assert r.status_code == 201 and r.headers["X-Request-ID"]
    assert_shape("Uploaded", r.json())
    r = client.post(f"/process/features/{session_id}", json={"file": "a.wav"}, headers={"Prefer": "wait=60"})
    assert r.status_code == 200 and r.headers["Preference-Applied"] == "wait=60", r.text
    assert_shape("Job", r.json())
    # digital silence: no level in dBFS, no dominant pitch class (null); a stranger's typed client threw on it
    upload(client, session_id, write(audio_dir / "silence.wav", 0.0 * sine(440, 0.6)))
    r = client.post(f"/process/features/{session_id}", json={"file": "silence.wav"}, headers={"Prefer": "wait=60"})
    assert r.status_code == 200 and r.json()["result"]["audio_features"]["rms_dbfs"] is None, r.text
    assert_shape("Job", r.json())
    jobs = {}
    for body in ({"picture": False}, {"file": "a.wav", "model": "hpss", "format": "flac"}):  # a batch; DSP
        kind = "features" if "picture" in body else "demucs"
        r = client.post(f"/process/{kind}/{session_id}", json=body)
        assert r.status_code == 202, r.text
        assert_shape("JobAccepted", r.json())
        jobs[kind] = client.wait_job(r.json()["job_id"])
        assert jobs[kind]["state"] == "succeeded", jobs[kind]
        assert_shape("Job", jobs[kind])
    assert jobs["features"]["result"]["batch"] is True and jobs["demucs"]["result"]["method"] == "dsp"
    for path, name in ((f"/sessions/{session_id}", "Session"), ("/sessions", "SessionList"), ("/jobs", "JobList"),
                       (f"/jobs/{jobs['demucs']['job_id']}/webhooks", "WebhookList"), ("/health", "Health"),
                       ("/api/v2/models/status", "ModelsStatus"), ("/whisper/models", "WhisperModels")):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text)
        assert_shape(name, r.json())
    assert_shape("Health", requests.get(f"{client.base}/health", timeout=30).json())  # the public view
    probe = client.post("/jobs/probe", json={"queue": "cpu", "wait": 30})
    assert probe.status_code == 200
    assert_shape("ProbeAnswer", probe.json())
    finished = client.delete(f"/jobs/{jobs['demucs']['job_id']}")
    assert finished.status_code == 409
    assert_shape("Error", finished.json())
    r = client.delete(f"/sessions/{session_id}")
    assert r.status_code == 200
    assert_shape("SessionDeleted", r.json())



def test_a_job_event_stream_matches_the_description_as_schemathesis_reads_it(client, session_id, audio_dir):
    """OpenAPI 3.1's schema of a text/event-stream answer describes each event (3.2's `itemSchema`): it had said
    `type: string`, and schemathesis failed every stream on its first event, an object of `event`, `id` and `data`."""
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    upload(client, session_id, write(audio_dir / "ev.wav", sine(440, 0.6)))
    spec = client.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.update(base_url=client.base)
    job_id = client.post(f"/process/features/{session_id}", json={"file": "ev.wav"}).json()["job_id"]
    assert client.wait_job(job_id)["state"] == "succeeded"
    case = schema["/jobs/{job_id}/events"]["GET"].Case(path_parameters={"job_id": job_id})
    response = case.call(auth=client.s.auth)
    assert response.status_code == 200 and "event: done" in response.text, response.text[:300]
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
    # the `state` event a stream of a queued or running job starts with (api/events.py), as schemathesis parses it
    event = {"event": "state", "id": "0-0", "data": '{"state": "queued", "progress": 0.0, "stage": "queued"}'}
    Draft202012Validator({"components": spec["components"], "$ref": "#/components/schemas/JobEvent"}).validate(event)
    placed = {"event": "state", "data": '{"state": "queued", "progress": 0.0, "stage": "queued", "jobs_ahead": 3}'}
    Draft202012Validator({"components": spec["components"], "$ref": "#/components/schemas/JobEvent"}).validate(placed)


def test_what_the_server_refuses_for_its_shape_the_description_refuses_too(client, session_id):
    """schemathesis' positive_data_acceptance sent requests the description allowed and got 400s: events without a
    webhook, another key of POST /sessions, no body where an option must be named, a search without `q`."""
    spec = client.get("/openapi.json").json()

    def body_schema(path: str) -> dict:
        return spec["paths"][path]["post"]["requestBody"]

    def allowed(path: str, body: dict) -> bool:
        schema = body_schema(path)["content"]["application/json"]["schema"]
        return Draft202012Validator({"components": spec["components"], **schema}).is_valid(body)

    for path, url, body in (("/process/features/{session_id}", f"/process/features/{session_id}",
                             {"webhook_events_filter": ["start"]}),
                            ("/api/v2/models/unload", "/api/v2/models/unload", {"webhook_events_filter": ["start"]}),
                            ("/sessions", "/sessions", {"session_id": "shape-1", "other": 1})):
        r = client.post(url, json=body)
        assert r.status_code == 400, (url, r.text)
        assert not allowed(path, body), f"the description of POST {path} allows {body}, refused {r.json()}"
    for path in ("/api/v2/models/load", "/library/ask", "/process/compare/{session_id}"):  # a required option
        r = client.post(path.replace("{session_id}", session_id))
        assert r.status_code == 400, (path, r.text)
        assert body_schema(path)["required"] is True, f"POST {path} answers 400 without a body: it is required"
    assert client.get("/library/search").status_code == 400
    q = next(p for p in spec["paths"]["/library/search"]["get"]["parameters"] if p.get("name") == "q")
    assert q["required"] is True
