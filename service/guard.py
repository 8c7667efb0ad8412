"""supervisord event listener: clears what a dead program left behind and retries programs that gave up.

Two gaps of supervisord that matter here:
- When a program's main process is killed (kill -9, OOM), its children live on: nginx workers keep
  the public port, gunicorn workers and celery pool children keep running. supervisord starts each
  program in a process group of its own, led by the main process, so a group whose leader is gone
  is exactly such a leftover; the guard SIGKILLs it (a pid that leads a live group is never reused,
  so this cannot hit a stranger).
- A program that fails to start START_RETRIES times in a row is left FATAL for good. The guard
  starts it again every FATAL_RETRY_SECONDS, so e.g. a valkey that could not start on a full disk
  comes back once space returns.
Runs as `python -m service.guard` under supervisord ([eventlistener:guard] in supervisord.conf).
"""

from __future__ import annotations

import os
import signal
import sys
import time

import psutil
from supervisor import childutils

FATAL_RETRY_SECONDS = float(os.environ.get("GUARD_FATAL_RETRY_SECONDS", "30"))  # checked every 5 s (TICK_5)


def note(message: str) -> None:
    # stdout is the event protocol's channel; notes go to stderr (supervisord's log and output)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} guard: {message}", file=sys.stderr, flush=True)


def leftover_groups(session: int, own_group: int) -> dict[int, list[int]]:
    """Process groups in supervisord's session whose leader (a program's main process) has died."""
    groups: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["status"]):
        pid = proc.pid
        try:
            if os.getsid(pid) != session or proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue  # a zombie is dead already: only its parent's wait can clear it
            group = os.getpgid(pid)
        except OSError:  # gone meanwhile
            continue
        # supervisord's own group (children before their setpgrp) and ours are not programs' groups
        if group in (session, own_group) or psutil.pid_exists(group):
            continue
        groups.setdefault(group, []).append(pid)
    return groups


def sweep(session: int, own_group: int) -> None:
    for group, pids in leftover_groups(session, own_group).items():
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            continue
        note(f"killed {len(pids)} process(es) {sorted(pids)} left behind by a dead program (group {group})")


def retry_fatal(fatal: dict[str, float]) -> None:
    """Start again each program that has been FATAL for FATAL_RETRY_SECONDS."""
    now = time.monotonic()
    for name, since in list(fatal.items()):
        if now - since < FATAL_RETRY_SECONDS:
            continue
        del fatal[name]
        note(f"{name} gave up starting {now - since:.0f} s ago; starting it again")
        try:
            childutils.getRPCInterface(os.environ).supervisor.startProcess(name, False)
        except Exception as e:  # noqa: BLE001 - a refused start (already running, stopping) is no reason to die
            note(f"could not start {name}: {e}")


def handle(event: str, payload: str, fatal: dict[str, float], session: int, own_group: int) -> None:
    info = childutils.get_headers(payload.split("\n", 1)[0]) if event.startswith("PROCESS_STATE") else {}
    name = info.get("processname", "")
    if event == "PROCESS_STATE_EXITED" and info.get("expected") == "0":
        note(f"{name} (pid {info.get('pid')}) died unexpectedly; supervisord is restarting it")
    if event in ("PROCESS_STATE_EXITED", "PROCESS_STATE_BACKOFF"):
        sweep(session, own_group)
    elif event == "PROCESS_STATE_FATAL":
        fatal[name] = time.monotonic()
        note(f"{name} gave up after repeated failed starts; retrying in {FATAL_RETRY_SECONDS:.0f} s")
    elif event.startswith("TICK"):
        sweep(session, own_group)
        retry_fatal(fatal)


def main() -> None:
    session, own_group = os.getsid(0), os.getpgid(0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # supervisord stopping: a normal end
    fatal: dict[str, float] = {}
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        try:
            handle(headers["eventname"], payload, fatal, session, own_group)
        except Exception as e:  # noqa: BLE001 - a failed sweep must not stop the next events
            note(f"error handling {headers['eventname']}: {e}")
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main()
