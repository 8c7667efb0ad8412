"""A path with a double slash is routed as it is sent, over real HTTP: a JSON 404 like any unknown path.

Werkzeug's default (merge_slashes) had answered `GET /sessions//mixed1` with an HTML 308 to `/sessions/mixed1`,
`/sessions/..%2f/files/x` with `Location: /sessions/../files/x` (a traversal echoed for the client to follow) and
`//health` with `Location: http://health/`, another host; a client following a 308 sends a DELETE again.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from tests.conftest import OTHER, OTHER_PASSWORD

PATHS = ["/sessions//mixed1", "/sessions/..%2f/files/x", "/sessions/..%2F..%2Fetc/files/passwd", "/jobs//x",
         "/sessions/x//files", "/sessions/x/files//y", "/health//"]
# a leading `//`: some HTTP servers take the path as it is (a 404 here), others drop the extra slash (the route's
# own JSON answer); never a redirect to a host named by the path (`Location: http://health/`)
LEADING = ["//health", "//sessions", "//sessions//mixed1"]


def raw(server: str, method: str, path: str) -> tuple[int, dict, bytes]:
    """The request line exactly as given (no client library normalising the path)."""
    import base64

    where = urlsplit(server)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        credentials = base64.b64encode(f"{OTHER}:{OTHER_PASSWORD}".encode()).decode()
        conn.request(method, path, headers={"Authorization": "Basic " + credentials})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("path", PATHS)
def test_a_double_slash_is_a_json_not_found_never_a_redirect(server, other_client, method, path):
    import json

    status, headers, body = raw(server, method, path)
    assert status == 404, (status, headers, body[:200])
    assert headers["content-type"].startswith("application/json") and "location" not in headers, headers
    assert json.loads(body)["error"]["code"] == "not_found", body


@pytest.mark.parametrize("path", LEADING)
def test_a_leading_double_slash_is_answered_in_json_without_a_location(server, other_client, path):
    status, headers, body = raw(server, "GET", path)
    assert status in (200, 404), (status, headers, body[:200])
    assert headers["content-type"].startswith("application/json") and "location" not in headers, headers

