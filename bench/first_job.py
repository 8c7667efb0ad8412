"""First-job latency of a fresh install, with the worker's numba warm-up (NUMBA_WARMUP) on and off.

Each run: a fresh DATA_DIR (an empty numba cache, DATA_DIR/numba-cache as run.py sets it) and a private valkey, a real
CPU worker (prefork, 2 children, as run.py starts it on 2 cores), then a features job and a pitch job on one real
recording, sent together (each pool child's first job), timed from sending to result. The jobs are sent once the
warm-up has finished (on), or as long after the worker's first heartbeat as the run before with it on took (off),
so both wait alike; `--at-once` sends them at the first heartbeat instead (the warm-up has not helped yet: the jobs
pay as before, beside it). Runs alternate on/off; prints each run, the medians and the off/on ratio.

    python bench/first_job.py AUDIO [--runs 3] [--at-once]

AUDIO: a real recording, e.g. hedgewars-data's Rock.ogg (`apt-get download hedgewars-data && dpkg -x
hedgewars-data_*.deb /tmp/debs`: /tmp/debs/usr/share/games/hedgewars/Data/Music/Rock.ogg) or
/usr/share/games/etr/music/*.ogg.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USER, PASSWORD = "bench", "bench-password"
SESSION = "first"
JOB_TIMEOUT = 900.0  # s


def worker_record(svc) -> dict | None:
    workers = svc.workers.all()
    return workers[0] if workers else None


def wait_for(svc, predicate, timeout: float) -> dict:
    """The worker's record once `predicate` holds (a bench: it polls the heartbeat every 0.2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = worker_record(svc)
        if record is not None and predicate(record):
            return record
        time.sleep(0.2)
    raise SystemExit(f"the worker did not get there in {timeout:.0f} s")


def one_run(audio: Path, *, warm: bool, delay: float | None, at_once: bool) -> dict:
    from werkzeug.security import generate_password_hash

    from app import create_app
    from jobs.submit import submit
    from redis_server import start_embedded
    from worker.features.options import FeaturesOptions
    from worker.music.options import PitchOptions

    tmp = Path(tempfile.mkdtemp(prefix="first-job-"))
    server = start_embedded(tmp / "valkey")
    url = f"redis://127.0.0.1:{server.port}/0"
    data = tmp / "data"
    users = f"{USER}:{generate_password_hash(PASSWORD, method='pbkdf2:sha256:1000')}"
    env = {**os.environ, "REDIS_URL": url, "DATA_DIR": str(data), "AUTH_USERS": users, "CPU_QUEUE": "cpu",
           "GPU_QUEUE": "gpu", "NUMBA_CACHE_DIR": str(data / "numba-cache"), "NUMBA_WARMUP": "1" if warm else "0",
           "PYTHONUNBUFFERED": "1"}
    app = create_app({"REDIS_URL": url, "DATA_DIR": str(data), "AUTH_USERS": users, "CPU_QUEUE": "cpu",
                      "GPU_QUEUE": "gpu", "NUMBA_WARMUP": False})
    svc = app.extensions["music_analyzer"]
    svc.sessions.of(USER).create(SESSION)
    shutil.copy(audio, svc.sessions.of(USER).uploads_dir(SESSION) / audio.name)
    log = open(tmp / "worker.log", "wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "make_celery", "worker", "--pool", "prefork", "--concurrency", "2",
         "-Q", "cpu", "-n", "bench@first", "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for(svc, lambda r: True, 120)
        first_beat = time.monotonic()
        warmup_seconds = None
        if warm and not at_once:
            record = wait_for(svc, lambda r: r.get("numba_warmup", {}).get("state") != "running", 600)
            assert record["numba_warmup"]["state"] == "done", record
            warmup_seconds = record["numba_warmup"]["seconds"]
        elif delay:
            time.sleep(max(0.0, first_beat + delay - time.monotonic()))
        waited = time.monotonic() - first_beat
        sent = {}
        with app.test_request_context():
            for kind, options in (("features", FeaturesOptions()), ("pitch", PitchOptions())):
                sent[kind] = submit(kind, owner=USER, session_id=SESSION, options=options, files=[audio.name])["job_id"]
        seconds = {}
        for kind, job_id in sent.items():
            job = svc.jobs.wait(job_id, JOB_TIMEOUT)
            assert job is not None and job["state"] == "succeeded", job
            # the record's own times: the two run side by side, and the one waited for second may have ended first
            seconds[kind] = job["finished_at"] - job["created_at"]
        return {"warm": warm, "waited": waited, "warmup_seconds": warmup_seconds, **seconds}
    finally:
        worker.terminate()
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio", type=Path)
    parser.add_argument("--runs", type=int, default=3, help="fresh DATA_DIRs per setting")
    parser.add_argument("--at-once", action="store_true", help="send the jobs at the worker's first heartbeat")
    a = parser.parse_args()
    print(f"{a.audio.name}, {'at the first heartbeat' if a.at_once else 'after the warm-up'}; load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    rows: list[dict] = []
    for i in range(a.runs):
        on = one_run(a.audio, warm=True, delay=None, at_once=a.at_once)
        off = one_run(a.audio, warm=False, delay=None if a.at_once else on["waited"], at_once=a.at_once)
        for row in (on, off):
            print(f"run {i + 1} warm-up {'on ' if row['warm'] else 'off'}: sent {row['waited']:.1f} s after the first "
                  f"heartbeat (warm-up {row['warmup_seconds']} s); features {row['features']:.1f} s, "
                  f"pitch {row['pitch']:.1f} s", flush=True)
            rows.append(row)
    summary = {}
    for kind in ("features", "pitch"):
        on = statistics.median(r[kind] for r in rows if r["warm"])
        off = statistics.median(r[kind] for r in rows if not r["warm"])
        summary[kind] = {"on": round(on, 1), "off": round(off, 1), "off/on": round(off / on, 2)}
        print(f"{kind}: median seconds to result, warm-up on {on:.1f}, off {off:.1f}: x{off / on:.2f} "
              f"(median of {a.runs} fresh DATA_DIRs each)")
    print(json.dumps({"load_after": round(os.getloadavg()[0], 1), **summary}))


if __name__ == "__main__":
    main()
