"""Downloads behind run.py's nginx front are sent by nginx from DATA_DIR (X-Accel-Redirect, api/front_files.py):
a stranger's 20 slow readers of a 366 MB upload had nginx buffer 7.25 GB of the API's answers into temp files
and kept another user's request waiting up to 23 s. The API still checks the caller, the name and the Range,
and every header a download had is still there. A real run.py, nginx, gunicorn and sockets."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import psutil
import pytest
import requests
import soundfile as sf
from werkzeug.security import generate_password_hash

from api.context import DOWNLOAD_CSP
from tests.audio_synth import sine
from tests.run_served import AUTH, PASSWORD, USER, run_behind_nginx, session_members

OTHER, OTHER_PASSWORD = "front-other", "another front test password"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    users = f"{USER}:{generate_password_hash(PASSWORD)},{OTHER}:{generate_password_hash(OTHER_PASSWORD)}"
    with run_behind_nginx(tmp_path_factory.mktemp("front-files"), {"AUTH_USERS": users, "AUTH_DISABLED": "0"}) as run:
        yield run


def uploaded(served, tmp: Path, name: str, seconds: float) -> tuple[str, bytes]:
    """A new session holding one 16 kHz tone of `seconds` under `name`; (its download URL, the bytes)."""
    sid = requests.post(served.base + "/sessions", auth=AUTH, timeout=30).json()["session_id"]
    path = tmp / "upload.wav"
    sf.write(path, sine(330, seconds, sr=16000), 16000)
    with open(path, "rb") as fh:
        r = requests.post(f"{served.base}/sessions/{sid}/files", files={"file": (name, fh)}, auth=AUTH, timeout=120)
    assert r.status_code == 201, r.text
    return f"{served.base}/sessions/{sid}/files/{r.json()['files'][0]['name']}", path.read_bytes()


@pytest.mark.slow
def test_a_download_is_sent_by_nginx_with_the_apis_headers_and_range_rules(served, tmp_path):
    url, data = uploaded(served, tmp_path, "tone.wav", 1.0)
    whole = requests.get(url, auth=AUTH, headers={"X-Request-ID": "front-files-1"}, timeout=30)
    assert whole.status_code == 200 and whole.content == data
    # nginx's own answer from disk: its ETag is "<mtime>-<size>" in hex (werkzeug's is "wzsdm-...")
    assert re.fullmatch(rf'"[0-9a-f]+-{len(data):x}"', whole.headers["ETag"]), whole.headers
    assert whole.headers["Content-Disposition"] == "attachment; filename=tone.wav"
    assert whole.headers["Content-Type"].startswith("audio/")
    assert whole.headers["Content-Security-Policy"] == DOWNLOAD_CSP
    assert whole.headers["X-Content-Type-Options"] == "nosniff" and whole.headers["Referrer-Policy"] == "no-referrer"
    assert whole.headers["X-Request-ID"] == "front-files-1"
    assert whole.headers["X-File-Area"] == "uploads"  # set again after the internal redirect, as the others
    inline = requests.get(url + "?inline=1", auth=AUTH, timeout=30)
    assert inline.headers["Content-Disposition"] == "inline; filename=tone.wav"

    part = requests.get(url, auth=AUTH, headers={"Range": "bytes=4-11"}, timeout=30)
    assert (part.status_code, part.content) == (206, data[4:12])
    assert part.headers["Content-Range"] == f"bytes 4-11/{len(data)}"
    for ignored in ("bytes=0-1,5-6", "bytes=abc", "bytes=9-2", "pages=1-2"):  # the API's rule: the whole file
        r = requests.get(url, auth=AUTH, headers={"Range": ignored}, timeout=30)
        assert (r.status_code, r.content) == (200, data), ignored
        assert r.headers["X-File-Area"] == "uploads"
    longer = requests.get(url, auth=AUTH, headers={"Range": f"bytes=-{len(data) + 1000}"}, timeout=30)
    assert (longer.status_code, longer.content) == (206, data), longer.text[:200]  # a suffix past the start: all
    for past in ("bytes=99999999-", "bytes=-0"):  # the API's 416: not the file's headers (curl -OJ saved it)
        r = requests.get(url, auth=AUTH, headers={"Range": past}, timeout=30)
        assert r.status_code == 416 and r.json()["error"]["code"] == "range_not_satisfiable", (past, r.text)
        assert "Content-Disposition" not in r.headers and r.headers["Content-Range"] == f"bytes */{len(data)}"
    huge = "9" * 20  # past nginx's off_t: nginx read the client's header after the hand-over and answered 416
    for beyond in (f"bytes=0-{huge}", f"bytes=-{huge}", f"bytes=4-{huge}", f"bytes={huge}-"):
        r = requests.get(url, auth=AUTH, headers={"Range": beyond}, timeout=30)
        assert (r.status_code, r.content) == (200, data), (beyond, r.status_code, r.text[:200])  # ignored: the file
        assert r.headers["Content-Disposition"] == "attachment; filename=tone.wav" and "Content-Range" not in r.headers
    r = requests.get(url, auth=AUTH, headers={"If-Match": '"another"'}, timeout=30)  # nginx's own: in the envelope
    assert r.status_code == 412 and r.json()["error"]["code"] == "precondition_failed", r.text
    held = requests.get(url, auth=AUTH, headers={"If-None-Match": whole.headers["ETag"]}, timeout=30)
    assert held.status_code == 304 and held.content == b""

    # the caller is still checked, and the internal locations are not reachable from outside
    assert requests.get(url, auth=(OTHER, OTHER_PASSWORD), timeout=30).status_code == 404
    assert requests.get(url, timeout=30).status_code == 401
    relative = url.split("/sessions/", 1)[1]
    for internal in ("/__files/", "/__files-whole/"):
        r = requests.get(served.base + internal + "users", auth=AUTH, timeout=30)
        assert r.status_code == 404 and r.json()["error"]["code"] in ("not_found", "file_not_found"), r.text
        assert not requests.get(served.base + internal + relative, auth=AUTH, timeout=30).content.startswith(b"RIFF")


@pytest.mark.slow
def test_slow_readers_leave_nothing_in_nginxs_temp_files(served, tmp_path):
    """Twenty readers that take the headers and then read nothing: nginx holds no temp file for them (through
    the API it filled one per reader with what gunicorn sent), and another request is answered meanwhile."""
    url, data = uploaded(served, tmp_path, "long.wav", 600.0)  # 19 MB
    path = "/" + url.split("/", 3)[3]
    token = requests.auth._basic_auth_str(*AUTH)
    readers = []
    try:
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", served.port), timeout=30)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n".encode())
            assert s.recv(12).startswith(b"HTTP/1.1 200"), "a reader got no answer"
            readers.append(s)
        assert requests.get(served.base + "/sessions", auth=AUTH, timeout=30).status_code == 200
        temp = served.layout.nginx / "proxy"
        held = [link for proc in session_members(served) if proc.name() == "nginx"
                for link in open_files(proc) if link.startswith(str(temp))]
        assert held == [], held
    finally:
        for s in readers:
            s.close()
    assert len(data) > 19_000_000


def open_files(proc: psutil.Process) -> list[str]:
    """Where a process' file descriptors point (deleted files too: psutil's open_files leaves those out)."""
    folder = f"/proc/{proc.pid}/fd"
    links = []
    for fd in os.listdir(folder):
        try:
            links.append(os.readlink(f"{folder}/{fd}"))
        except OSError:
            continue
    return links
