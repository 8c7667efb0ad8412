"""The programs one run supervises, each a plain command line plus how to start and stop it.

Start order is `priority` ascending (valkey, workers, API, front), stop order the reverse, so the
front stops taking requests first and the queue's server stops last.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass

from config import EX_CONFIG
from redis_server import valkey_binary, write_embedded_config
from service import front
from service.api_worker import HEADER_FIELD_BYTES, REQUEST_LINE_BYTES
from service.layout import RunLayout

# A stream lasts as long as its job: on stop, listeners get this long, then are cut (EventSource reconnects
# with Last-Event-ID, to the API while this program restarts: nginx's backup upstream).
EVENTS_GRACE_SECONDS = 3
# what nginx lets through (16 KB lines and headers) should reach the app, as far as gunicorn allows
REQUEST_LIMITS = ["--limit-request-line", str(REQUEST_LINE_BYTES),
                  "--limit-request-field_size", str(HEADER_FIELD_BYTES)]


@dataclass(frozen=True)
class Options:
    """What run.py's command line asks for."""

    host: str
    port: int
    api_workers: int
    api_threads: int
    cpu_concurrency: int
    gpu_worker: bool
    front: str  # "auto" (nginx when installed), "nginx" (required) or "none" (gunicorn serves the port)
    events: str = "auto"  # GET /jobs/<id>/events: "auto" (gevent server when installed), "gevent" (required), "api"
    take_over_redis: bool = False  # claim REDIS_URL's database though another data directory holds it


@dataclass(frozen=True)
class Program:
    name: str
    command: list[str]
    priority: int
    startsecs: int  # up this long = started; a quicker exit counts as a failed start (backoff)
    stopsignal: str = "TERM"
    stopwaitsecs: int = 10  # then SIGKILL to its whole process group
    # gets its stop signal as soon as a stop begins, not when its turn in the priority order comes:
    # supervisord stops one group at a time, so a busy worker would hold back the others' signal
    stops_at_once: bool = False
    # exit statuses that end it for good (supervisord's `exitcodes` with autorestart=unexpected): a worker whose
    # settings cannot work here exits EX_CONFIG, and restarting it only repeats that (each start handing back the job
    # it took); any other exit, 0 included, is restarted as before
    final_exit_codes: tuple[int, ...] = ()


def valkey(layout: RunLayout, port: int) -> Program:
    conf = write_embedded_config(layout.data, port)
    return Program("valkey", [str(valkey_binary()), str(conf)], priority=10, startsecs=1)


def _celery_worker(redis_url: str, args: list[str]) -> list[str]:
    # service.launch waits until Redis answers, then execs celery in its place (same pid): a worker
    # (re)started while Redis is down waits instead of failing into the supervisor's backoff.
    # No mingle (as the systemd worker unit): its start-up exchange with the other workers waited 1 s at every start
    # and restart for revoked task ids and clocks, and this service revokes no Celery task (a cancel is in the job's
    # record). No gossip either: nothing here reads worker events.
    return [sys.executable, "-m", "service.launch", "--wait-redis", redis_url, "--",
            sys.executable, "-m", "celery", "-A", "make_celery", "worker", "--loglevel", "INFO", "--without-mingle",
            "--without-gossip", *args]


def workers(opts: Options, settings: dict, redis_url: str) -> list[Program]:
    # A worker finishes its running job on TERM (warm shutdown) for up to a minute; after that the
    # job is lost to this worker and redelivered by the job layer's recovery. Both get TERM as the stop
    # begins (stops_at_once), so neither takes a new job while the other finishes its own.
    progs = [Program("cpu-worker", _celery_worker(redis_url, [
        "-Q", settings["CPU_QUEUE"], "--pool", "prefork", "--concurrency", str(opts.cpu_concurrency),
        "-n", "cpu@%h"]), priority=20, startsecs=3, stopwaitsecs=60, stops_at_once=True, final_exit_codes=(EX_CONFIG,))]
    if opts.gpu_worker:
        progs.append(Program("gpu-worker", _celery_worker(redis_url, [
            "-Q", settings["GPU_QUEUE"], "--pool", "solo", "--concurrency", "1", "-n", "gpu@%h"]),
            priority=20, startsecs=3, stopwaitsecs=60, stops_at_once=True, final_exit_codes=(EX_CONFIG,)))
    return progs


def api(opts: Options, bind: str) -> Program:
    command = [sys.executable, "-m", "gunicorn", "-w", str(opts.api_workers), "-k", "service.api_worker.ApiWorker",
               "--threads", str(opts.api_threads), "-b", bind, "--timeout", "300", *REQUEST_LIMITS,
               *_no_control_socket(), "app:create_app()"]
    # gunicorn's graceful timeout is 30 s: let it finish requests before the SIGKILL
    return Program("api", command, priority=30, startsecs=2, stopwaitsecs=35)


def gevent_available() -> bool:
    return importlib.util.find_spec("gevent") is not None


def events(bind: str, max_listeners: int) -> Program:
    """The same app under one gevent worker, for GET /jobs/<id>/events only (nginx routes just that there).

    A listener mostly waits in Redis for the job's next event; under the API's gthread workers each one
    would hold a thread for as long as it listens (8 listeners per process would stop the API). The gevent
    worker (service/events_worker.py) monkey-patches the process before it loads the app, so redis-py's
    blocking reads yield, and an idle listener costs a greenlet and two sockets. No --timeout: an async
    worker's heartbeat comes from its event loop, never from a request, so hour-long streams are fine.
    `max_listeners` (EVENTS_MAX_LISTENERS, which also sizes the app's Redis pool) are served at once;
    more wait to be accepted.
    """
    command = [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "service.events_worker.EventsWorker",
               "--worker-connections", str(max_listeners), "-b", bind,
               "--graceful-timeout", str(EVENTS_GRACE_SECONDS), *REQUEST_LIMITS, *_no_control_socket(),
               "app:create_app()"]
    return Program("events", command, priority=30, startsecs=2, stopwaitsecs=EVENTS_GRACE_SECONDS + 5)


def _no_control_socket() -> list[str]:
    """Recent gunicorn (27 here) opens a control socket at one fixed path per user (~/.gunicorn/gunicorn.ctl):
    every master on the host (other instances' too) would take it over and remove it when it stops. Neither the
    API nor the events server uses it (supervisord controls them)."""
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


def nginx(binary: str, layout: RunLayout) -> Program:
    # QUIT: graceful, finish the requests in flight
    return Program("nginx", front.command(binary, layout), priority=40, startsecs=1, stopsignal="QUIT")
