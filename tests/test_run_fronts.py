"""What run.py starts in front of the app, without a shared run: nginx or gunicorn alone, the gevent events
server or the API, and the answers gunicorn gives itself to what it refuses. Real processes and sockets."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from redis_server import free_port
from service.layout import RunLayout
from tests.run_served import ROOT, raw_request


def test_without_nginx_the_front_falls_back_to_gunicorn_or_refuses_when_required(tmp_path):
    from config import load_settings
    from service.programs import Options
    from service.runner import choose_front

    env = {**os.environ, "NGINX_BIN": str(tmp_path / "no-nginx-here"), "AUTH_DISABLED": "1",
           "DATA_DIR": str(tmp_path / "data")}
    required = subprocess.run([sys.executable, "run.py", "--port", str(free_port()), "--front", "nginx"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert required.returncode == 5 and "nginx is not installed" in required.stderr, required.stderr
    assert "spawned" not in required.stdout  # nothing was started

    os.environ["NGINX_BIN"] = env["NGINX_BIN"]
    try:
        layout = RunLayout.for_data_dir(tmp_path / "data2")
        layout.create()
        opts = Options("127.0.0.1", free_port(), 1, 1, 1, False, "auto")
        binary, note = choose_front(opts, load_settings({"MAX_UPLOAD_BYTES": "1000"}, dotenv=False), layout)
    finally:
        del os.environ["NGINX_BIN"]
    assert binary is None and "WARNING nginx is not installed" in note and "gunicorn serves" in note


@pytest.mark.parametrize("program", ["api", "events"])
def test_what_gunicorn_itself_refuses_is_answered_in_the_json_envelope(tmp_path, program, redis_url):
    """Without nginx, or past nginx's 16 KB limits, gunicorn answers before the app sees the request: a stranger's
    5,000-character query got gunicorn's HTML 414. The program's own command line, on a socket bound here."""
    from service import programs

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    opts = programs.Options("127.0.0.1", port, 1, 2, 1, False, "none")
    bind = f"fd://{listener.fileno()}"
    command = programs.api(opts, bind).command if program == "api" else programs.events(bind, 10).command
    # neither program takes the per-user control socket every gunicorn master would share
    assert programs._no_control_socket() == [] or "--no-control-socket" in command
    env = {**os.environ, "DATA_DIR": str(tmp_path), "REDIS_URL": redis_url, "AUTH_DISABLED": "1"}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, pass_fds=[listener.fileno()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listener.close()  # gunicorn holds it now; connections queue until its worker accepts them
    try:
        cases = {
            b"GET /health?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n": (414, "uri_too_long"),
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n":
                (431, "request_header_too_large"),
            b"NOT A REQUEST\r\n\r\n": (400, "bad_request"),
        }
        for request, (status, code) in cases.items():
            got, headers, body = raw_request(port, request)
            assert (got, json.loads(body)["error"]["code"]) == (status, code), body
            assert headers["content-type"] == "application/json" and b"<html" not in body
        # up to gunicorn's largest limits (nginx passes 16 KB) the request reaches the app
        within = b"GET /health?q=" + b"a" * 8000 + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 12000 + b"\r\n\r\n"
        got, headers, body = raw_request(port, within)
        assert got in (200, 503) and "status" in json.loads(body), body  # /health's own answer
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_event_streams_fall_back_to_the_api_without_gevent_or_a_front_or_refuse_when_required(tmp_path):
    from dataclasses import replace

    from service import front
    from service.programs import Options
    from service.runner import choose_events

    opts = Options("127.0.0.1", free_port(), 1, 1, 1, False, "auto")
    assert choose_events(opts, front_runs=True, have_gevent=True)[0] is True
    for front_runs, have_gevent, why in [(True, False, "gevent is not installed"), (False, True, "there is no front")]:
        served, note = choose_events(opts, front_runs=front_runs, have_gevent=have_gevent)
        assert not served and f"WARNING {why}" in note and "the API serves /jobs/<id>/events" in note, note
    assert choose_events(replace(opts, events="api"), front_runs=True, have_gevent=True)[0] is False
    with pytest.raises(SystemExit, match="gevent is not installed"):
        choose_events(replace(opts, events="gevent"), front_runs=True, have_gevent=False)
    # without an events server, nginx sends the streams to the API itself
    site = front.site_values(front.FrontSettings("1", "unix:/run/api.sock", 1, "/dev/null"))
    assert site["EVENTS_UPSTREAM"] == site["API_UPSTREAM"]
    env = {**os.environ, "AUTH_DISABLED": "1", "DATA_DIR": str(tmp_path / "data")}
    required = subprocess.run([sys.executable, "run.py", "--port", str(free_port()), "--front", "none",
                               "--events", "gevent"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert required.returncode == 5 and "--events gevent: there is no front" in required.stderr, required.stderr
    assert "spawned" not in required.stdout  # nothing was started
    # nor was the default Redis's database claimed for this data directory (jobs/redis_claim.py): a refused start had
    # left this test's temporary folder as the owner of the host's database
    from jobs import keys
    from redis_server import redis_answers, redis_client

    default = "redis://127.0.0.1:6379/0"
    if redis_answers(default):
        claimed = redis_client(default).hget(keys.DATA_DIR_CLAIM, "path")
        assert claimed is None or claimed.decode() != str(tmp_path / "data"), claimed


def test_a_setting_that_cannot_work_is_named_before_anything_starts(tmp_path):
    """A stranger's MAX_UPLOAD_BYTES=abc was a bare traceback, =-1 a run where every request with a body got 413
    while /health said ok, HEARTBEAT_SECONDS=nan a crash loop, =0 a worker beating ~8,000 times a second."""
    from config import SettingsError, load_settings

    for key, value, says in (("MAX_UPLOAD_BYTES", "abc", "is not a number"), ("MAX_UPLOAD_BYTES", "10MB", "number"),
                             ("MAX_UPLOAD_BYTES", "-1", "more than 0"), ("HEARTBEAT_SECONDS", "nan", "finite"),
                             ("HEARTBEAT_SECONDS", "0", "at least 0.1"), ("MIN_FREE_DISK_MB", "-100", "0 or more"),
                             ("MAX_DURATION_SECONDS", "inf", "finite"),
                             # a stranger's 0.5 became 0 (every upload refused, login throttling off), and a word
                             # that is not a boolean had meant false
                             ("MAX_CHANNELS", "0.5", "whole number"), ("LOGIN_FAILURE_LIMIT", "2.5", "whole number"),
                             ("LIBRARY_ENABLED", "enabled", "not true or false"),
                             # run.py's own, and values that failed only at first use (a stranger's operator trial)
                             ("PORT", "abc", "is not a number"), ("PORT", "70000", "at most 65535"),
                             ("API_WORKERS", "x", "is not a number"), ("FRONT_HEADER_TIMEOUT", "-5", "more than 0"),
                             ("MAX_UPLOAD_BYTES", "1e30", "at most"), ("FRONT", "bogus", "must be one of auto"),
                             ("EVENTS_SERVER", "gevnt", "must be one of"), ("LIBRARY_VECTOR_SEARCH", "bogus", "one of"),
                             ("DEFAULT_MODEL", "nope-model", "not a model of the registry"),
                             ("WEBHOOK_SECRET", "whsec_abc", "not base64"),
                             # a worker's: read at its import, =abc had been a traceback there, =0 a loop of tries
                             ("QUEUE_FULL_FIRST_RETRY_SECONDS", "abc", "is not a number"),
                             ("QUEUE_FULL_FIRST_RETRY_SECONDS", "0", "more than 0")):
        with pytest.raises(SettingsError, match=f"^{key}=") as e:
            load_settings({key: value}, dotenv=False)
        assert says in str(e.value), (key, value, str(e.value))
    zeros = load_settings({"MIN_FREE_DISK_MB": "0", "LOGIN_FAILURE_LIMIT": "0", "MODEL_KEEP_ALIVE": "0"}, dotenv=False)
    assert (zeros["MIN_FREE_DISK_MB"], zeros["LOGIN_FAILURE_LIMIT"], zeros["MODEL_KEEP_ALIVE"]) == (0, 0, 0.0)
    read = load_settings({"MAX_CHANNELS": "8.0", "LIBRARY_ENABLED": "Off", "AUTH_DISABLED": "yes",
                          "FRONT_HEADER_TIMEOUT": "7", "WEBHOOK_SECRET": "whsec_c2VjcmV0LWtleQ=="}, dotenv=False)
    assert (read["MAX_CHANNELS"], read["LIBRARY_ENABLED"], read["AUTH_DISABLED"]) == (8, False, True)
    assert read["FRONT_HEADER_TIMEOUT"] == 7 and read["WEBHOOK_SECRET"] == "whsec_c2VjcmV0LWtleQ=="
    for key, value in (("MAX_UPLOAD_BYTES", "-1"), ("PORT", "abc")):  # PORT=abc had been a traceback
        env = {**os.environ, "AUTH_DISABLED": "1", "DATA_DIR": str(tmp_path / "data"), key: value}
        r = subprocess.run([sys.executable, "run.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and f"{key}={value!r}" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not (tmp_path / "data").exists()  # nothing was started or created


def test_the_redis_password_is_not_printed():
    from redis_server import masked_url

    assert masked_url("redis://:s3cret@127.0.0.1:6391/0") == "redis://:***@127.0.0.1:6391/0"
    assert masked_url("redis://me:s3cret@cache/2") == "redis://me:***@cache/2"
    assert masked_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_a_redis_url_that_cannot_work_is_said_and_no_embedded_server_is_started(tmp_path):
    """A stranger's REDIS_URL on a port another service held started an embedded valkey there, which could not
    bind and was restarted every ~2 s for ever; `notaurl` was a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for url, says in ((f"redis://127.0.0.1:{port}/0", f"something listens on port {port}"),
                          ("notaurl", "is not a redis:// ")):
            env = {**os.environ, "AUTH_DISABLED": "1", "DATA_DIR": str(tmp_path / "data"), "REDIS_URL": url}
            r = subprocess.run([sys.executable, "run.py", "--port", str(free_port())], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 5 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
            assert "spawned" not in r.stdout  # nothing was started


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to act as nobody")
def test_an_env_file_the_service_user_cannot_read_is_named(tmp_path):
    """The systemd steps had root make .env 0600; run.py as the service user was a PermissionError traceback, and
    systemd restarted it forever. It is now the settings' own error (exit 2, which the unit does not restart)."""
    folder = tmp_path / "install"
    folder.mkdir()
    (folder / ".env").write_text("AUTH_USERS=a:b\n")
    (folder / ".env").chmod(0o600)
    for path in (tmp_path, folder):
        path.chmod(0o755)
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable,
                        str(ROOT / "run.py"), "--port", str(free_port())], cwd=folder,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and ".env in" in r.stderr and "not readable by this user" in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stderr


def test_a_lock_held_after_its_run_died_says_the_run_is_still_stopping(tmp_path):
    """run.py killed with -9 leaves its supervisord holding the data directory's lock while it stops the programs
    (up to a minute): a stranger's restart a second later was told another run "is already serving", naming the
    dead pid."""
    import fcntl

    from service.lock import AlreadyRunning, DataDirLock

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()  # a pid that has ended
    path = tmp_path / "run.lock"
    held = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # the orphaned supervisord's inherited lock
    try:
        os.pwrite(held, f"{gone}\n".encode(), 0)
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(AlreadyRunning, match=f"previous run \\(pid {gone}, gone\\) is still stopping"):
            DataDirLock(path).acquire()
        os.ftruncate(held, 0)  # (a shorter pid over a longer one had read "328\n5")
        os.pwrite(held, f"{os.getpid()}\n".encode(), 0)  # a live holder: serving
        with pytest.raises(AlreadyRunning, match=f"another run \\(pid {os.getpid()}\\) is already serving"):
            DataDirLock(path).acquire()
    finally:
        os.close(held)
