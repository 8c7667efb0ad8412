"""A worker of the CPU queue compiles the analysis jobs' numba code into DATA_DIR's cache at start (jobs/warmup.py),
beside its heartbeat: a fresh install's first features job had spent ~18 s (105 s under load) compiling it."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import redis as redis_lib

from config import load_settings
from jobs import keys
from tests.test_resilience import stop_all

ROOT = Path(__file__).resolve().parent.parent
# what the features, pitch and weight-free stems jobs compile, as numba names their cache index files
# (module.function-line);
# measured by running both on real recordings with an empty NUMBA_CACHE_DIR (worker/warmup.py's note)
WARMED = ("beat_tracking._beat_dp-", "melody._banded_viterbi-", "utils._localmax-", "utils._localmin-",
          "utils.__peak_pick-", "utils._cabs2-", "utils._phasor_angles-",
          "spectrum.__overlap_add-", "filters.__window_ss_fill-")  # the last two: librosa.istft (stems)
WAIT_SECONDS = 120.0  # the warm-up takes ~13 s on an idle 2-core machine; a bound, not a sleep


def watch_warmup(sub, client: redis_lib.Redis, timeout: float) -> tuple[list[float], dict | None]:
    """Follow the worker's heartbeat record through Redis' keyspace events (each beat writes the hash): the beats
    written while its warm-up ran, and the warm-up's last published state (None: no beat came in time)."""
    running: list[float] = []
    state: dict | None = None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        message = sub.get_message(timeout=left)
        if not message or message["type"] != "pmessage" or message["data"] != b"hset":
            continue
        record = client.hgetall(message["channel"].decode().split(":", 1)[1])
        if not record:
            continue
        assert b"numba_warmup" in record, f"the worker's heartbeat says nothing of a warm-up: {record}"
        state = json.loads(record[b"numba_warmup"])
        if state["state"] != "running":
            return running, state
        running.append(float(record[b"heartbeat"]))
    return running, state


def test_a_fresh_worker_caches_the_analysis_numba_code_before_any_job_and_beats_meanwhile(
        settings, private_redis, tmp_path):
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    client = redis_lib.Redis.from_url(url)
    client.config_set("notify-keyspace-events", "Kh")  # our own server: an event for every hash write (each beat)
    data = tmp_path / "data"
    env = {**os.environ, "REDIS_URL": url, "DATA_DIR": str(data), "AUTH_USERS": settings["AUTH_USERS"],
           "HEARTBEAT_SECONDS": "0.5", "GPU_QUEUE": settings["GPU_QUEUE"], "CPU_QUEUE": settings["CPU_QUEUE"],
           "NUMBA_WARMUP": "1", "NUMBA_WARMUP_NICE": "0",  # the suite keeps both cores busy: at 19 it had waited 2 min
           # LLVM's optimisation level, not what is compiled: the same functions and signatures reach the cache (its
           # index is keyed by signature and CPU, not by this), in half the CPU (11 s of user time against 23 idle)
           "NUMBA_OPT": "0"}
    env.pop("NUMBA_CACHE_DIR", None)  # a worker started without run.py: the cache goes into DATA_DIR all the same
    node = f"warm-{os.getpid()}@localhost"
    log_path = tmp_path / "worker.log"
    pattern = f"__keyspace@0__:{keys.worker(node)}#*"
    with client.pubsub() as sub, open(log_path, "wb") as log:
        sub.psubscribe(pattern)
        sub.get_message(timeout=5)  # the subscription's confirmation: beats from here on are seen
        worker = subprocess.Popen(  # prefork, as run.py's CPU worker: the pool child forks beside the warm-up
            [sys.executable, "-m", "celery", "-A", "make_celery", "worker", "--pool", "prefork", "--concurrency", "1",
             "-Q", settings["CPU_QUEUE"], "-n", node, "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            beats, state = watch_warmup(sub, client, WAIT_SECONDS)
        finally:
            stop_all([worker])
    text = log_path.read_text(errors="replace")
    assert state is not None and state["state"] == "done", (state, text[-3000:])
    # it beat all along: every 0.5 s, never near the 3 s after which a worker counts as dead
    assert len(beats) >= 3, (beats, text[-3000:])
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    assert max(gaps) < 2.5, gaps
    # no job was ever sent: the cache holds every function the features, pitch and stems jobs compile
    cached = [p.name for p in (data / "numba-cache").rglob("*.nbi")]
    assert all(any(name.startswith(w) for name in cached) for w in WARMED), sorted(cached)
    assert all(any(p.name.startswith(w) for p in (data / "numba-cache").rglob("*.nbc")) for w in WARMED)
    done = [line for line in text.splitlines() if "numba warm-up done in" in line]
    assert len(done) == 1 and f"{data / 'numba-cache'}" in done[0], text[-3000:]


def test_the_warm_up_is_on_by_default_and_a_setting_turns_it_off():
    assert load_settings({}, dotenv=False)["NUMBA_WARMUP"] is True
    assert load_settings({"NUMBA_WARMUP": "off"}, dotenv=False)["NUMBA_WARMUP"] is False
    assert load_settings({}, dotenv=False)["NUMBA_WARMUP_NICE"] == 19
    assert load_settings({"NUMBA_WARMUP_NICE": "0"}, dotenv=False)["NUMBA_WARMUP_NICE"] == 0


# the test's two processes run this (PYTHONPATH): it reports the making of the warm-up's scratch folder on a FIFO,
# through Python's audit hooks, so the test kills the worker exactly when that folder exists (the os.mkdir event
# comes before the folder is made: the report waits for the process' next event, after it)
ANNOUNCE_MKDIR = '''
import os, sys
made = []
def hook(event, args):
    if made == [True]:
        made.append(True)
        fd = os.open(os.environ["MA_TEST_MKDIR_FIFO"], os.O_WRONLY)
        os.write(fd, b"made\\n")
        os.close(fd)
    elif event == "os.mkdir" and "music-analyzer-warmup-" in str(args[0]):
        made.append(True)
sys.addaudithook(hook)
'''
# a worker as far as the warm-up sees it: NumbaWarmup started and waited for, printing its warm-up's pid
WORKER = '''
import subprocess, sys
class Announced(subprocess.Popen):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        print(self.pid, flush=True)
subprocess.Popen = Announced
from jobs.warmup import NumbaWarmup
warmup = NumbaWarmup(sys.argv[1], nice=0)  # the suite keeps both cores busy
warmup.start()
warmup.join()
'''


def test_a_worker_killed_outright_during_its_warm_up_leaves_no_scratch_folder(tmp_path):
    """kill -9 of a worker mid warm-up had left its scratch folder (~0.5 MB: a recording and results) in /tmp
    each time; the warm-up now makes its own and removes it on the SIGTERM its parent's death sends it."""
    hooks, scratch_root = tmp_path / "hooks", tmp_path / "tmp"
    hooks.mkdir()
    scratch_root.mkdir()
    (hooks / "sitecustomize.py").write_text(ANNOUNCE_MKDIR)
    fifo = tmp_path / "made"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open first, so the hook's open for writing never blocks
    env = {**os.environ, "TMPDIR": str(scratch_root), "MA_TEST_MKDIR_FIFO": str(fifo),
           "PYTHONPATH": os.pathsep.join([str(hooks), str(ROOT)]), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / "data")], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE)
    try:
        warm_pid = int(worker.stdout.readline())
        pidfd = os.pidfd_open(warm_pid)
        assert select.select([reader], [], [], WAIT_SECONDS)[0], "no scratch folder was made"
        assert list(scratch_root.iterdir()), "the scratch folder is not in TMPDIR"
    finally:
        worker.kill()  # SIGKILL: no handler of the worker runs
        worker.wait()
        worker.stdout.close()
        os.close(reader)
    try:  # the warm-up ends with its parent (PR_SET_PDEATHSIG); its exit makes the pidfd readable
        assert select.select([pidfd], [], [], WAIT_SECONDS)[0], "the warm-up outlived its worker"
    finally:
        os.close(pidfd)
    assert list(scratch_root.iterdir()) == []


def test_a_warm_up_whose_worker_died_while_it_started_does_not_compile_on_as_an_orphan(tmp_path):
    """A worker killed in the second its warm-up takes to start (Python, numpy): the warm-up read its adoptive parent
    as its own, so the parent-death signal never came and it compiled on to its end (minutes at nice 19 under load,
    seen when a test killed its worker at once). It now knows its worker's pid and ends."""
    cache, scratch_root = tmp_path / "cache", tmp_path / "tmp"
    scratch_root.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch_root), "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / "data")], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE)
    try:
        warm_pid = int(worker.stdout.readline())  # the warm-up was just started: it is still importing numpy
        pidfd = os.pidfd_open(warm_pid)
    finally:
        worker.kill()
        worker.wait()
        worker.stdout.close()
    try:
        assert select.select([pidfd], [], [], WAIT_SECONDS)[0], "the warm-up outlived its worker"
    finally:
        os.close(pidfd)
    assert not list(cache.rglob("*.nbi")), "the orphaned warm-up compiled"
    assert list(scratch_root.iterdir()) == []


# a SIGTERM that comes while Python runs in a ctypes callback from C, as numba's compiler does in LLVM's object-cache
# hook (`_raw_object_cache_notify`): qsort's comparison here, the signal sent from inside it
IN_A_CALLBACK = '''
import ctypes, os, signal, sys
from worker import warmup
os.mkdir(sys.argv[1])
warmup.SCRATCH.append(sys.argv[1])
signal.signal(signal.SIGTERM, warmup.stop_on_sigterm)
def compare(a, b):
    os.kill(os.getpid(), signal.SIGTERM)
    return 0
items = (ctypes.c_int * 2)(2, 1)
ctypes.CDLL(None).qsort(items, 2, ctypes.sizeof(ctypes.c_int),
                        ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(compare))
print("compiled on", flush=True)
'''


def test_a_sigterm_during_a_callback_from_llvm_ends_the_warm_up_and_removes_its_scratch_folder(tmp_path):
    """The SIGTERM handler raised SystemExit to unwind: ctypes prints and drops an exception raised in a callback, so a
    stop that came while numba ran Python under LLVM went unseen and the warm-up compiled on to its end (27 s idle,
    64 s for the kill test above in a suite run). It now removes the folder and exits in the handler."""
    scratch = tmp_path / "scratch"
    done = subprocess.run([sys.executable, "-c", IN_A_CALLBACK, str(scratch)], cwd=ROOT, capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=WAIT_SECONDS)
    assert (done.returncode, done.stdout) == (128 + 15, b""), (done.returncode, done.stdout, done.stderr[-2000:])
    assert not scratch.exists()
