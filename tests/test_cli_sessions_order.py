"""`ma sessions` lists the last changed session first (real CLI subprocess, real HTTP, real server).

The server listed sessions by id (a page at a time), and so did the table: a stranger's session of a moment ago, a
random hex id, was somewhere in the middle of the list, where `ma jobs` lists the newest first. `ma sessions` now
asks the server for `order=modified` (an older server's 400 `invalid_filter`: sorted here, as before).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER, auth_users
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


# the last version whose GET /sessions had no `order` (it answers 400 invalid_filter to it)
SERVER_WITHOUT_ORDER = "9b87008707811dfd2211e1fec7e09d7e010c11ea"
OLD_SERVER = """
import sys
sys.path.insert(0, {code!r})
from werkzeug.serving import make_server
from app import create_app
app = create_app({{"REDIS_URL": {url!r}, "DATA_DIR": {data!r}, "AUTH_USERS": {users!r}, "TESTING": True}})
srv = make_server("127.0.0.1", 0, app, threaded=True)
print(srv.server_port, flush=True)
srv.serve_forever()
"""


def test_with_a_server_without_order_the_list_is_sorted_here(tmp_path, private_redis):
    """That version's own code, checked out of git, on a real socket: `ma sessions` gets its 400 `invalid_filter`
    to `order=modified` and lists its one order by id the last changed first, as before."""
    root = Path(__file__).resolve().parents[1]
    old, data = tmp_path / "old", tmp_path / "data"
    old.mkdir()
    if shutil.which("git") is None or subprocess.run(["git", "cat-file", "-e", SERVER_WITHOUT_ORDER], cwd=root,
                                                     capture_output=True).returncode != 0:
        pytest.skip("not a git checkout holding the older version")
    archive = subprocess.run(["git", "archive", SERVER_WITHOUT_ORDER], cwd=root, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    child = OLD_SERVER.format(code=str(old), url=f"redis://127.0.0.1:{private_redis.port}/0", data=str(data),
                              users=auth_users((USER, PASSWORD)))
    proc = subprocess.Popen([sys.executable, "-c", child], cwd=old, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base = f"http://127.0.0.1:{int(proc.stdout.readline())}"
        older, newer = "aa-older", "zz-newer"
        for session in (older, newer):
            assert requests.post(f"{base}/sessions", json={"session_id": session}, auth=(USER, PASSWORD),
                                 timeout=30).status_code == 201
        hour_ago = time.time() - 3600
        for path in ("uploads", "results", ""):
            os.utime(data / "users" / USER / "sessions" / older / path, (hour_ago, hour_ago))
        refused = requests.get(f"{base}/sessions", params={"order": "modified"}, auth=(USER, PASSWORD), timeout=30)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_filter"  # that version
        env = cli_env(base, tmp_path)
        done = ma(env, "sessions")
        assert done.returncode == 0, done.stderr
        rows = [line.split()[0] for line in done.stdout.splitlines() if line.split()[:1] in ([older], [newer])]
        assert rows == [newer, older], done.stdout
        listed = [s["session_id"] for s in json.loads(ma(env, "--json", "sessions").stdout)]
        assert listed == [older, newer]  # --json: that server's order, by id
    finally:
        proc.terminate()
        proc.wait(timeout=30)
