"""The one-command run: `python run.py` on a machine whose REDIS_URL answers nothing.

Real processes and sockets throughout. One run.py (the module's `served` fixture, nginx in front)
serves the supervision, front and slow-client checks in file order; the last test stops it.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from werkzeug.security import generate_password_hash

from jobs.store import JobStore
from redis_server import redis_answers, redis_client
from service.lock import DataDirLock
from tests.conftest import wait_for
from tests.run_served import (
    AUTH,
    PASSWORD,
    ROOT,
    USER,
    features_session,
    free_port,
    group_alive,
    health,
    long_job,
    probe,
    raw_request,
    run_behind_nginx,
    session_members,
    start_run,
    still_alive,
    stop_run,
)
from tests.slow_clients import drip, open_slow_sockets, percentile, server_closed, summary, timed_get
from tests.sse import follow_until_done, open_raw_streams, open_stream, tree_rss, wait_all_received

ANSWERED_SOON = 1.0  # s, p99 with 200 slow clients/streams open: a held thread is no answer in 2 s (CI: 0.14 s)
FRONT_TIMEOUT = 6  # FRONT_HEADER_ and FRONT_BODY_TIMEOUT of the shared run (defaults 10, 30 s; 10 s had been waited)


def test_run_py_starts_embedded_redis_api_and_workers_then_stops(tmp_path):
    served = start_run(tmp_path, {"AUTH_DISABLED": "1"})
    base = served.base
    try:
        health_ = wait_for(lambda: health(base), timeout=300, interval=0.2,  # 180 ran out once on a fresh clone
                           message="run.py to serve /health with both workers")
        assert {q for w in health_["workers"] for q in w["queues"]} == {"gpu", "cpu"}
        assert redis_answers(served.redis_url) and (tmp_path / "data" / "redis").is_dir()  # embedded, on its port
        for queue in ("cpu", "gpu"):
            r = requests.post(base + "/jobs/probe", json={"queue": queue, "wait": 30}, timeout=40)
            assert r.status_code == 200 and r.json()["ok"], r.text
        members = session_members(served)
        assert len(members) >= 6  # supervisord, guard, valkey, two workers, API, nginx (+ their children)
        assert str(served.layout.metrics).startswith("/dev/shm/") and any(served.layout.metrics.iterdir())
        # its commands name REDIS_URL, password and all: readable by its owner only (a stranger found it 0644)
        assert served.layout.supervisor_conf.stat().st_mode & 0o777 == 0o600
    finally:
        code = stop_run(served)
    out = served.output()
    assert "curl" in out and base in out  # it told the user where it listens
    assert code == 0, out[-3000:]
    assert not redis_answers(served.redis_url)  # and stopped what it started
    assert still_alive(members) == [] and not served.layout.metrics.parent.exists()  # counters in memory, removed
    assert "exited: " not in out.split("received SIGTERM")[-1]  # each program stopped, none crashed


# --- one shared run, nginx in front ---------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory, smollm2_folder, numba_cache):  # its capacity tests' one user stands in for many: no
    env = {"AUTH_USERS": f"{USER}:{generate_password_hash(PASSWORD)}", "AUTH_DISABLED": "0",  # per-user share of waits
           "SMOLLM2_MODEL_PATH": str(smollm2_folder), "NUMBA_CACHE_DIR": str(numba_cache),  # converted; compiled
           **dict.fromkeys(("FRONT_HEADER_TIMEOUT", "FRONT_BODY_TIMEOUT"), str(FRONT_TIMEOUT)),
           **dict.fromkeys(("WAITS_PER_USER", "STREAMS_PER_USER"), "1000")}
    with run_behind_nginx(tmp_path_factory.mktemp("served"), env) as run:  # the last test kills it with -9
        yield run


KILLED = ["nginx", "api", "events", "valkey", "cpu-worker", "gpu-worker"]


@pytest.mark.slow
@pytest.mark.parametrize("name", KILLED)
def test_a_killed_program_is_restarted_while_the_others_keep_serving(served, name, capsys):
    sup = served.sup()
    wait_for(lambda: health(served.base), timeout=60, message="a healthy service before the kill")
    before = {n: info["pid"] for n, info in sup.programs().items()}
    old = before[name]
    seen: list[int] = []  # /health status codes while it recovers
    queues = {"cpu-worker": ["cpu"], "gpu-worker": ["gpu"], "valkey": ["cpu", "gpu"]}.get(name, [])

    def back() -> bool:
        pid = sup.programs()[name]["pid"]
        if pid in (0, old) or group_alive(old):  # not restarted yet, or its leftovers still run
            return False
        try:
            seen.append(requests.get(served.base + "/health", timeout=2).status_code)
        except requests.RequestException:
            seen.append(0)
        return health(served.base) is not None and all(probe(served, q) for q in queues)

    os.kill(old, signal.SIGKILL)
    t0 = time.monotonic()
    wait_for(back, timeout=120, interval=0.05, message=f"{name} to come back and the service to answer")
    seconds = time.monotonic() - t0
    with capsys.disabled():
        print(f"\n  kill -9 {name}: /health 200 (status ok){' and probes' if queues else ''} "
              f"served by the new process after {seconds:.2f} s")
    after = {n: info["pid"] for n, info in sup.programs().items()}
    assert {n: p for n, p in after.items() if n != name} == {n: p for n, p in before.items() if n != name}
    if name.endswith("worker"):
        assert set(seen) <= {200}, seen  # the API answered throughout
    assert f"exited: {name} (terminated by SIGKILL; not expected)" in served.output()  # supervisord's line
    assert f"guard: {name} (pid {old}) died unexpectedly" in served.output()


@pytest.mark.slow
def test_event_streams_are_served_by_the_api_while_the_events_server_is_down(served):
    r = requests.post(served.base + "/jobs/probe", json={"queue": "cpu", "wait": 30}, auth=AUTH, timeout=40)
    job_id = r.json()["job_id"]
    assert "events" in served.sup().programs() and "events: a gevent server takes" in served.output()
    served.sup().stop("events")
    try:
        with open_stream(served.base, job_id, AUTH) as events:  # nginx's backup upstream: the API
            assert [e.json()["state"] for e in events.events()] == ["succeeded"]
    finally:
        served.sup().start("events")


@pytest.mark.slow
@pytest.mark.parametrize("queue", ["cpu", "gpu"])
def test_a_killed_workers_job_is_redelivered_within_seconds(served, queue, tmp_path, capsys):
    """The supervisor restarts the worker under the same node name; its job must not wait for the broker's
    visibility timeout (hours): the dead identity's heartbeat expires and the job is redelivered."""
    jobs = JobStore(redis_client(served.redis_url))
    job_id = long_job(served, queue, tmp_path)
    job = jobs.wait_until(job_id, lambda j: j["state"] == "running" and j["progress"] > 0, timeout=120)  # reported
    assert job["state"] == "running", job
    os.kill(served.sup().pid(f"{queue}-worker"), signal.SIGKILL)
    t0 = time.monotonic()
    # the new worker's start counts the attempt, then takes the record: wait for both (CI once read the record
    # between the two, attempt 2 beside the dead worker's name)
    again = jobs.wait_until(job_id, lambda j: j["attempts"] == 2 and j["state"] != "queued"
                            and j.get("worker") != job["worker"], timeout=60)
    seconds = time.monotonic() - t0
    with capsys.disabled():
        print(f"\n  kill -9 {queue}-worker mid-job: the job runs again (attempt 2) after {seconds:.1f} s")
    assert again["attempts"] == 2 and again["worker"] != job["worker"], again
    assert seconds < 30
    if queue == "gpu":  # proven; the rest of the long generation would only cost time
        requests.delete(f"{served.base}/jobs/{job_id}", auth=AUTH, timeout=30)
    done = jobs.wait_for_state(job_id, ("succeeded", "failed", "canceled"), timeout=300)
    assert done["state"] == ("succeeded" if queue == "cpu" else "canceled"), done


@pytest.mark.slow
def test_the_front_answers_its_own_errors_in_the_json_envelope(served):
    cases = {
        b"POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 2147483648\r\n\r\n": (413, "payload_too_large"),
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n": (431, "request_header_too_large"),
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n": (414, "uri_too_long"),
        b"NOT A REQUEST\r\n\r\n": (400, "bad_request"),
        b"TRACE /health HTTP/1.1\r\nHost: x\r\n\r\n": (405, "method_not_allowed"),  # a stranger's: HTML
        b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n": (505, "http_version_not_supported"),
        b"POST /sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n": (501, "not_implemented"),
    }
    for request, (status, code) in cases.items():
        got, headers, body = raw_request(served.port, request)
        assert (got, json.loads(body)["error"]["code"]) == (status, code), body
        assert headers["content-type"] == "application/json" and len(headers["x-request-id"]) == 32
    # nginx's 405 for TRACE (and CONNECT) says what the URL takes, as RFC 9110 requires (it had no Allow at all)
    for path, allow in ((b"/health", "GET, HEAD, OPTIONS"), (b"/sessions?limit=1", "GET, HEAD, OPTIONS, POST")):
        got, headers, body = raw_request(served.port, b"TRACE " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (got, headers.get("allow")) == (405, allow), (headers, body)
        assert json.loads(body)["error"]["code"] == "method_not_allowed"
    _, _, body = raw_request(served.port, next(iter(cases)))
    assert "1073741824" in json.loads(body)["error"]["message"]  # the API's MAX_UPLOAD_BYTES
    # a doubled slash is routed as sent through the front too: the API's JSON 404, no redirect (an HTML 308 had been)
    moved = requests.get(served.base + "/sessions//x", allow_redirects=False, auth=AUTH, timeout=10)
    assert (moved.status_code, moved.json()["error"]["code"], moved.headers.get("Location")) == (404, "not_found", None)
    # within nginx's 16 KB, past gunicorn's line limit: gunicorn's answer, in the same envelope
    got, headers, body = raw_request(served.port, b"GET /health?q=" + b"a" * 12000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (got, json.loads(body)["error"]["code"]) == (414, "uri_too_long"), body
    assert headers["content-type"] == "application/json"
    # one limit in one wording, whoever refuses (a stranger's 9 KB and 20 KB addresses read as two limits)
    _, _, nginx_body = raw_request(served.port, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert json.loads(nginx_body)["error"]["message"] == json.loads(body)["error"]["message"]
    assert "8190 bytes" in json.loads(body)["error"]["message"]
    got, _, body = raw_request(served.port, b"GET /health?q=" + b"a" * 6000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got == 200 and json.loads(body)["status"] == "ok"  # a long query reaches the app

    sup = served.sup()
    sup.stop("api")
    try:
        r = requests.get(served.base + "/health", headers={"X-Request-ID": "stopped-api-1"}, timeout=5)
        assert r.status_code == 502 and r.json()["error"]["code"] == "api_unavailable"
        assert r.headers["X-Request-ID"] == "stopped-api-1"  # the client's id, kept
    finally:
        sup.start("api")
    rid = f"rid-{uuid.uuid4().hex}"
    wait_for(lambda: requests.get(served.base + "/health", headers={"X-Request-ID": rid}, timeout=5).ok,
             timeout=60, message="the API back after its restart")
    log = served.layout.logs / "nginx-access.log"
    wait_for(lambda: f"rid={rid}" in log.read_text(), timeout=10, message="the request id in nginx's access log")


@pytest.mark.slow
def test_the_client_rides_out_an_api_restart_and_starts_one_job(served, tmp_path):
    """A stranger's CLI gave up on nginx's 502 (Retry-After: 2) while the API restarted, though the jobs it had
    asked for ran. The client library retries a 502 with the same Idempotency-Key: one call, one job."""
    from music_analyzer_client import MusicAnalyzer

    sid, names = features_session(served, tmp_path, [1.0])
    sup = served.sup()
    sup.stop("api")
    api = MusicAnalyzer(served.base, USER, PASSWORD)
    started: dict = {}
    caller = threading.Thread(target=lambda: started.update(job=api.start_job("features", sid, file=names[0])))
    log = served.layout.logs / "nginx-access.log"
    mark = log.stat().st_size
    caller.start()
    try:  # nginx has answered the call's first try with 502: only now does the API come back
        wait_for(lambda: f"/process/features/{sid}" in log.read_text()[mark:] and '" 502 ' in log.read_text()[mark:],
                 timeout=30, message="nginx's 502 to the client's first try")
    finally:
        sup.start("api")
    caller.join(timeout=60)
    assert "job" in started, "the client gave up during the restart"
    listed = requests.get(served.base + "/jobs", params={"session_id": sid}, auth=AUTH, timeout=30).json()["jobs"]
    assert [j["job_id"] for j in listed] == [started["job"]["job_id"]]


@pytest.mark.slow
def test_two_hundred_slow_clients_do_not_delay_health_or_authenticated_requests(served, capsys):
    r = requests.post(served.base + "/jobs/probe", json={"queue": "cpu", "wait": 30}, auth=AUTH, timeout=40)
    job_path = f"/jobs/{r.json()['job_id']}"
    for _ in range(4):  # the first authenticated request of an API process checks the password hash
        assert timed_get("127.0.0.1", served.port, job_path, AUTH, 5) < 5
    socks = open_slow_sockets("127.0.0.1", served.port, 200, AUTH)
    opened = time.monotonic()
    try:
        health_s, job_s = [], []
        for i in range(150):
            health_s.append(timed_get("127.0.0.1", served.port, "/health", None, 2))
            job_s.append(timed_get("127.0.0.1", served.port, job_path, AUTH, 2))
            if i % 25 == 0:
                drip(socks[:100])
        hanging = sum(not server_closed(s) for s in socks)
        with capsys.disabled():
            print(f"\n  200 slow sockets open, nginx front: /health {summary(health_s)}"
                  f"\n  200 slow sockets open, nginx front: GET {job_path[:12]}… (auth) {summary(job_s)}")
        assert hanging == 200, f"only {hanging} slow sockets still hung after {time.monotonic() - opened:.1f} s"
        assert percentile(health_s, 99) < ANSWERED_SOON and percentile(job_s, 99) < ANSWERED_SOON
        wait_for(lambda: all(server_closed(s) for s in socks), timeout=FRONT_TIMEOUT + 15, interval=0.2,
                 message="nginx to close the slow sockets itself (partial headers, idle bodies: FRONT_TIMEOUT)")
        assert time.monotonic() - opened > FRONT_TIMEOUT - 1  # by its timeouts, not at once
    finally:
        for s in socks:
            s.close()


@pytest.mark.slow
def test_job_events_pass_through_nginx_as_they_happen_and_the_end_arrives_within_milliseconds(
        served, tmp_path, capsys):
    """One CPU worker process (--cpu-concurrency 1): the short jobs wait behind a batch, so their streams open
    while they are certainly queued and each sees its whole life."""
    from concurrent.futures import ThreadPoolExecutor

    store = JobStore(redis_client(served.redis_url))
    sid, names = features_session(served, tmp_path, [20.0, 20.0, 20.0, 1.0])

    def submit(body: dict) -> str:
        return requests.post(f"{served.base}/process/features/{sid}", json=body, auth=AUTH, timeout=30).json()["job_id"]

    batch = submit({})
    with open_stream(served.base, batch, AUTH) as events:
        short = [submit({"file": names[-1]}) for _ in range(5)]
        with ThreadPoolExecutor(len(short)) as pool:
            followed = pool.map(lambda j: follow_until_done(open_stream(served.base, j, AUTH)), short)
            while (event := events.next()) is not None and event.event != "progress":
                continue
            # nginx passed the first progress event on while the batch still ran, not at its end
            assert event is not None and store.get(batch)["state"] == "running"
            assert follow_until_done(events)[1].json()["state"] == "succeeded"
            ends = list(followed)
    assert all(first.json()["state"] == "queued" for first, _ in ends)  # each stream saw its job from the queue on
    delays = [done.received - store.get(job)["finished_at"] for job, (_, done) in zip(short, ends, strict=True)]
    with capsys.disabled():
        print(f"\n  job finished -> its final SSE event at the client (worker -> Redis -> gevent -> nginx): median "
              f"{statistics.median(delays) * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms over {len(delays)} jobs")
    assert all(done.json()["state"] == "succeeded" for _, done in ends) and statistics.median(delays) < 0.5


@pytest.mark.slow
def test_two_hundred_idle_event_streams_hold_no_api_thread(served, capsys):
    """200 listeners on a job that never runs (its record is made without a message to any queue)."""
    store = JobStore(redis_client(served.redis_url))
    job_id = store.create(owner=USER, job_type="probe", session_id=None, queue="no-worker-serves-this",
                          task="never-sent")["job_id"]
    for _ in range(4):  # the first authenticated request of each server process checks the password hash
        assert timed_get("127.0.0.1", served.port, f"/jobs/{job_id}", AUTH, 5) < 5
    events_pid = served.sup().pid("events")
    before = tree_rss(events_pid), store.r.info("memory")["used_memory"]
    socks = open_raw_streams("127.0.0.1", served.port, job_id, AUTH, 200)
    try:
        opened = wait_all_received(socks, b"event: state", timeout=60)
        assert len(opened) == 200  # every stream is served at once, none waits for a free thread
        grown = tree_rss(events_pid) - before[0], store.r.info("memory")["used_memory"] - before[1]
        health_s = [timed_get("127.0.0.1", served.port, "/health", None, 2) for _ in range(150)]
        job_s = [timed_get("127.0.0.1", served.port, f"/jobs/{job_id}", AUTH, 2) for _ in range(150)]
        canceled_at = time.time()
        store.mark_canceled(job_id)
        finals = wait_all_received(socks, b"event: done", timeout=60)
    finally:
        for s in socks:
            s.close()
    with capsys.disabled():
        print(f"\n  200 idle event streams open: /health {summary(health_s)}"
              f"\n  200 idle event streams open: GET /jobs/<id> (auth) {summary(job_s)}"
              f"\n  per idle stream: {grown[0] / 200 / 1024:.1f} KiB in the events server, "
              f"{grown[1] / 200 / 1024:.1f} KiB in Redis (its connection)"
              f"\n  the job's end reached all 200 streams within {(max(finals.values()) - canceled_at) * 1000:.0f} ms")
    assert len(finals) == 200
    assert percentile(health_s, 99) < ANSWERED_SOON and percentile(job_s, 99) < ANSWERED_SOON


@pytest.mark.slow
def test_long_polls_hold_no_api_thread(served, capsys, tmp_path):
    """A stranger's 24 long polls (GET /jobs/<id>?wait=60) kept another user's GET /sessions waiting 57 s: each
    held one of the API's 16 threads. nginx sends requests that wait to the gevent server, as the streams."""
    store = JobStore(redis_client(served.redis_url))
    job_id = store.create(owner=USER, job_type="probe", session_id=None, queue="no-worker-serves-this",
                          task="never-sent")["job_id"]
    creds = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    polls = []
    for _ in range(40):  # more than the API's threads (2 workers x 8)
        s = socket.create_connection(("127.0.0.1", served.port), timeout=5)
        s.sendall(f"GET /jobs/{job_id}?wait=60 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {creds}\r\n"
                  "Connection: close\r\n\r\n".encode())
        s.setblocking(False)
        polls.append(s)
    try:
        r = requests.get(served.base + "/jobs", params={"limit": 1}, auth=AUTH, timeout=10)  # not behind them
        assert r.status_code == 200
        sessions_s = [timed_get("127.0.0.1", served.port, "/sessions", AUTH, 5) for _ in range(30)]
        store.mark_canceled(job_id)
        answered = wait_all_received(polls, b"canceled", timeout=60)  # each poll ends with the job's end
    finally:
        for s in polls:
            s.close()
    with capsys.disabled():
        print(f"\n  40 long polls open: GET /sessions (auth) {summary(sessions_s)}")
    assert len(answered) == 40 and percentile(sessions_s, 99) < 1.0
    # the routes that wait, served there, answer as before: Prefer: wait on a job, a model route
    sid, names = features_session(served, tmp_path, [0.5])
    r = requests.post(f"{served.base}/process/features/{sid}", json={"file": names[0]}, auth=AUTH,
                      headers={"Prefer": "wait=60"}, timeout=90)
    assert r.status_code == 200 and r.json()["state"] == "succeeded" and r.headers["Preference-Applied"], r.text
    r = requests.post(f"{served.base}/api/v2/models/unload", json={"wait": 60}, auth=AUTH, timeout=90)
    assert r.status_code == 200 and r.json()["unloaded"] is None, r.text  # nothing was loaded


@pytest.mark.slow
def test_a_second_run_on_the_same_data_dir_refuses_and_the_first_keeps_serving(served):
    before = {n: info["pid"] for n, info in served.sup().programs().items()}
    second = subprocess.run([sys.executable, "run.py", "--port", str(free_port()), "--api-workers", "1"],
                            cwd=ROOT, env=served.env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 3, second.stderr
    assert f"pid {served.proc.pid}" in second.stderr and "not starting a second one" in second.stderr
    assert "spawned" not in second.stdout + second.stderr  # no supervisord, no workers
    assert {n: info["pid"] for n, info in served.sup().programs().items()} == before
    assert health(served.base) is not None


@pytest.mark.slow
def test_a_killed_run_py_still_stops_everything_and_frees_the_data_dir(served):
    members = session_members(served)
    served.proc.kill()  # no chance to clean up: supervisord gets SIGTERM from the kernel (parent-death signal)
    served.proc.wait(timeout=10)
    wait_for(lambda: still_alive(members) == [], timeout=120, interval=0.2,
             message="supervisord to stop every program after run.py died")
    assert not redis_answers(served.redis_url)
    lock = DataDirLock(served.layout.lock_file)
    lock.acquire()  # free again for the next run
    lock.release()


