"""An upload the API refuses before reading its body (a disk under MIN_FREE_DISK_MB, over the owner's storage quota,
bad credentials), sent through run.py's nginx front, is answered with that refusal.

gunicorn drains at most 64 KB of a body the app left unread, then closes the connection; nginx, still sending the
body it had buffered, got a broken pipe and answered 502 `api_unavailable` "the API is not answering
(restarting?)": a stranger's 10 MB uploads to a data directory low on space were 502 in 3 of 10 tries instead of 507.
A real run.py, nginx, gunicorn and sockets."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
from werkzeug.security import generate_password_hash

from tests.conftest import wait_for
from tests.run_served import AUTH, PASSWORD, USER, start_run, stop_run

BODY_BYTES = 12 * 1024 * 1024  # far past the 64 KB gunicorn drains, and past the socket's buffers
TRIES = 100  # the old code lost 1-10 of 40, 9-10 of 100 here


@pytest.mark.slow  # a run.py of its own: ~25 s here
def test_refusals_before_the_body_is_read_reach_the_client_as_themselves(tmp_path):
    env = {"AUTH_USERS": f"{USER}:{generate_password_hash(PASSWORD)}", "AUTH_DISABLED": "0",
           "MIN_FREE_DISK_MB": "1000000000"}  # no disk has that much free: every upload is 507 before it is read
    log = tmp_path / "run.log"
    run = start_run(tmp_path, env, ["--no-gpu-worker"], output=log)
    body = b"\0" * BODY_BYTES
    answers: Counter[tuple[int, str]] = Counter()
    try:
        wait_for(lambda: "Music Analyzer API:" in log.read_text(), timeout=300, interval=0.2, message="the banner")
        for auth in [AUTH] * TRIES + [(USER, "not the password")] * 3:
            r = requests.post(f"{run.base}/sessions/early/files", auth=auth,
                              files={"file": ("big.wav", body, "audio/wav")}, timeout=60)
            answers[(r.status_code, r.json()["error"]["code"])] += 1
    finally:
        stop_run(run)
    assert answers == Counter({(507, "insufficient_storage"): TRIES, (401, "unauthorized"): 3}), answers
