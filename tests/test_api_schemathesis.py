"""The OpenAPI contract, property-tested against the live service: schemathesis generates requests for every
operation of /openapi.json (valid ones and invalid ones) and sends them over real HTTP to the test server,
real Redis and the real Celery worker. Every answer must be no server error, a status the description lists
for that operation, of a documented content type, with the documented headers and matching its schema.

Cheap valid requests: the session the generated requests reach holds one short tone, so the jobs they start
end in a fraction of a second; model routes without local weights answer 409 before anything is queued,
and the few model jobs that can run (SmolLM2, when the suite converted it) get small token and wait limits
(hooks below). No operation is excluded.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st

from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER
from tests.test_api_sessions import upload

REAL_SESSION, REAL_FILE = "contract", "song.wav"  # not the spec's example "demo": DELETE may be sent its examples
# per operation and phase; with the coverage phase's boundaries ~2 min on 2 cores. A deeper local run:
# CONTRACT_EXAMPLES=200 CONTRACT_SEED=7 python3 -m pytest tests/test_api_schemathesis.py
MAX_EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", 25))
SEED = int(os.environ.get("CONTRACT_SEED", 20260113))

CONFIG = {
    "seed": SEED,
    # derandomized, no example database: every run (and CI) sends the same requests
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "mode": "all", "database": "none"},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
               "stateful": {"enabled": False}},
    "checks": {
        "enabled": False,  # only these: the contract; the rest are heuristics about API design
        # 504 is POST /jobs/probe's documented "no worker answered in time"; status_code_conformance still
        # fails it on any operation that does not document it
        "not_a_server_error": {"enabled": True, "expected-statuses": ["2xx", "3xx", "4xx", "504"]},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "response_headers_conformance": {"enabled": True},
    },
    "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    "request-timeout": 60,
}


@pytest.fixture(scope="module")
def contract_schema(client, server, audio_dir):
    """The description the app serves, with the test server as base URL and the tester's credentials."""
    r = upload(client, REAL_SESSION, write(audio_dir / REAL_FILE, sine(440, 0.6)))
    assert r.status_code == 201, r.text
    spec = client.get("/openapi.json").json()
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_dict(spec, config=config)
    schema.config.update(base_url=server, basic_auth=(USER, PASSWORD))
    register_hooks(schema)
    yield schema
    cancel_leftovers(client)


def register_hooks(schema: Any) -> None:
    @schema.hook
    def flatmap_path_parameters(ctx, path_parameters: dict) -> st.SearchStrategy:
        """As generated, or pointing at the real session (and its file): the valid paths get exercised too.
        Never for DELETE: deleting the session the other operations use would only test 404s after it."""
        if (ctx.operation is None or ctx.operation.method.upper() == "DELETE" or not isinstance(path_parameters, dict)
                or "session_id" not in path_parameters):
            return st.just(path_parameters)
        real = {**path_parameters, "session_id": REAL_SESSION}
        if "name" in path_parameters:
            real["name"] = REAL_FILE
        return st.sampled_from([path_parameters, real])

    @schema.hook
    def map_body(ctx, body: Any) -> Any:
        """Small limits for the model jobs that can really run here (SmolLM2): seconds, not minutes."""
        if ctx.operation is None or not isinstance(body, dict):
            return body
        path = ctx.operation.path
        if path.startswith("/api/v2/models/") or path.startswith("/process/gemma_3n/"):
            for key, most in (("max_length", 4), ("max_new_tokens", 4), ("wait", 2)):
                if isinstance(body.get(key), int | float) and not isinstance(body.get(key), bool):
                    body[key] = min(body[key], most)
        return body

    @schema.hook
    def flatmap_query(ctx, query: Any) -> st.SearchStrategy:
        """`?owner=` as generated (mostly someone unknown: 404), absent, or the caller's own name; and the
        model routes' and GET /jobs/<id>'s `wait` at most 2 s: the answers are under test, not the waiting."""
        if not isinstance(query, dict):
            return st.just(query)
        if isinstance(query.get("wait"), int | float) and query["wait"] > 2:
            query = {**query, "wait": 2}
        if "owner" not in query:
            return st.just(query)
        rest = {k: v for k, v in query.items() if k != "owner"}
        return st.sampled_from([rest, {**rest, "owner": USER}, query])


def cancel_leftovers(client) -> None:
    """The jobs the generated requests queued must not keep the shared worker busy for the tests after."""
    jobs = client.get("/jobs", params={"state": "queued,running", "limit": 1000}).json()["jobs"]
    for job in jobs:
        client.delete(f"/jobs/{job['job_id']}")


schema = schemathesis.pytest.from_fixture("contract_schema")


@schema.parametrize()
@pytest.mark.slow
def test_every_operation_keeps_the_contract(case):
    started = time.monotonic()
    case.call_and_validate()
    assert time.monotonic() - started < 60, f"{case.operation.label} took over a minute"

