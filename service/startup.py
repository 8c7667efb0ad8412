"""run.py's start: its banner once the service answers, or the program that could not start and why.

The banner ("Music Analyzer API: http://...") had been printed before supervisord started anything: a stranger's
run.py, started outside the repository folder, said it served while the API and both workers crash-looped on
settings they read from another `.env`. supervisord's RUNNING is not enough to tell: it means "up for
`startsecs`", and a gunicorn whose app fails to load takes longer than that to exit (it is then restarted for
ever, never FATAL). So run.py waits until every program is RUNNING and the API answers /health with each queue
of this run served (or says Redis is away: the workers wait for it); a program that supervisord gives up on
(FATAL), or that has been started START_TRIES times meanwhile, ends the run, with the end of its log.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass

import requests

from service.control import Supervisor
from service.layout import RunLayout

POLL_SECONDS = 0.2  # supervisord's states and /health, between two looks
LOG_LINES = 12  # of the failed program's log: the end of a traceback names the cause
START_TRIES = 3  # a program started this often before the service answers fails at start (not a slow one)
SLOW_START_SECONDS = 60.0  # then run.py says once what it still waits for (a worker whose Redis refuses writes)


@dataclass(frozen=True)
class Outcome:
    up: bool  # every program RUNNING and the service answering
    failed: str | None = None  # the program that could not start, if one did first
    for_good: bool = False  # it exited with a status that ends it (78), where the others kept exiting


def wait_until_up(layout: RunLayout, supervisord: subprocess.Popen, stopping: Callable[[], bool],
                  ready: Callable[[], bool]) -> Outcome:
    """Poll until every program is RUNNING and `ready()`, or one fails to start; gives up (not up, none failed)
    when a stop is asked for or supervisord has exited."""
    sup = Supervisor(layout)
    pids: dict[str, set[int]] = {}  # the processes each program has had: a restart is a new one
    pause = threading.Event()  # never set: only its timed wait is used, between two looks
    noted_at = time.monotonic() + SLOW_START_SECONDS
    while not stopping() and supervisord.poll() is None:
        try:
            infos = sup.programs()
        except (OSError, http.client.HTTPException, xmlrpc.client.Error):  # its socket is not up yet
            infos = {}
        for name, info in infos.items():
            if info["pid"]:
                pids.setdefault(name, set()).add(int(info["pid"]))
        # EXITED / STOPPED, not asked for: a worker left down for good (exit status 78, service/guard.py)
        failed = sorted(name for name, info in infos.items()
                        if info["statename"] == "FATAL" or len(pids.get(name, ())) >= START_TRIES
                        or (info["statename"] in ("EXITED", "STOPPED") and info["start"]))  # not before its 1st
        if failed:
            return Outcome(up=False, failed=failed[0], for_good=infos[failed[0]]["statename"] != "FATAL")
        if infos and all(info["statename"] == "RUNNING" for info in infos.values()) and ready():
            return Outcome(up=True)
        if time.monotonic() > noted_at:
            noted_at = float("inf")
            starting = sorted(n for n, info in infos.items() if info["statename"] != "RUNNING")
            print(f"run.py: not serving yet after {SLOW_START_SECONDS:.0f} s: "
                  f"{'still starting: ' + ', '.join(starting) if starting else 'GET /health has no worker for a queue'}"
                  f"; logs in {layout.logs}", file=sys.stderr, flush=True)
        pause.wait(POLL_SECONDS)
    return Outcome(up=False)


def service_answers(base: str, queues: set[str]) -> bool:
    """The API answers GET {base}/health, and every queue kind in `queues` has a live worker; or the API says Redis
    is away (503), which the workers wait for. A front's own answer (nginx's 502 while the API is down) is not."""
    try:
        r = requests.get(base + "/health", timeout=2)
        body = r.json()
    except (requests.RequestException, ValueError):
        return False
    if not isinstance(body, dict) or body.get("api") != "ok":
        return False
    return r.status_code == 503 or (r.status_code == 200 and not queues & set(body.get("queues_without_worker", [])))


def failure_note(layout: RunLayout, name: str, *, for_good: bool = False) -> str:
    """What run.py says when `name` could not start: the end of its log, and where the whole of it is."""
    log = layout.logs / f"{name}.log"
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-LOG_LINES:]
    except OSError:
        lines = []
    tail = "".join(f"\n  | {line}" for line in lines) or "\n  | (its log is empty)"
    how = ("it stopped with exit status 78, EX_CONFIG: its settings cannot work here" if for_good
           else "it kept exiting during its start")
    return (f"run.py: {name} could not start ({how}); stopping everything. "
            f"The end of {log}:{tail}")
