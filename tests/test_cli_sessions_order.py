"""`ma sessions` lists the last changed session first (real CLI subprocess, real HTTP, real server).

The server listed sessions by id (a page at a time), and so did the table: a stranger's session of a moment ago, a
random hex id, was somewhere in the middle of the list, where `ma jobs` lists the newest first. `ma sessions` now
asks the server for `order=modified` (an older server's 400 `invalid_filter`: sorted here, as before).
"""

from __future__ import annotations

import json
import uuid

from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER
from tests.test_api_sessions import upload
from tests.test_cli import cli_env, ma


def test_sessions_are_listed_last_changed_first(server, celery_worker, client, tmp_path):
    env = cli_env(server, tmp_path)
    tag = uuid.uuid4().hex[:6]
    older, newer = f"aa-older-{tag}", f"zz-newer-{tag}"  # by id, the older one comes first
    tone = write(tmp_path / "order.wav", sine(330, 0.3))
    try:
        for session in (older, newer):  # changed in this order
            assert upload(client, session, tone).status_code == 201
        done = ma(env, "sessions")
        assert done.returncode == 0, done.stderr
        rows = [line.split()[0] for line in done.stdout.splitlines() if tag in line]
        assert rows == [newer, older], done.stdout
        # --json: the server's order, which is now the same (GET /sessions?order=modified), where it was by id
        listed = [s["session_id"] for s in json.loads(ma(env, "--json", "sessions").stdout)]
        assert listed.index(newer) < listed.index(older)
        # the client's own iterator, a page of one at a time: the same order, each once
        from music_analyzer_client import MusicAnalyzer

        with MusicAnalyzer(server, USER, PASSWORD) as api:
            paged = [s["session_id"] for s in api.sessions(order="modified", page_size=1)]
            assert [s for s in paged if tag in s] == [newer, older] and len(paged) == len(set(paged)) == len(listed)
            assert [s["session_id"] for s in api.sessions(page_size=1) if tag in s["session_id"]] == [older, newer]
    finally:
        for session in (older, newer):
            client.delete(f"/sessions/{session}")
