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
And one run.py needs: a worker that exits 78 (EX_CONFIG: its settings cannot work here, e.g. a DATA_DIR that is not
the service's) is left down (supervisord's exitcodes, service/supervisor_conf.py) and the guard says why on run.py's
output, with the line of its log that tells. One that exits so within its startsecs is a failed start to
supervisord, restarted whatever its status: the guard stops it when its log's last lines say "exit status 78".
Runs as `python -m service.guard` under supervisord ([eventlistener:guard] in supervisord.conf).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import xmlrpc.client

import psutil
from supervisor import childutils
from supervisor.xmlrpc import Faults

from config import EX_CONFIG

FATAL_RETRY_SECONDS = float(os.environ.get("GUARD_FATAL_RETRY_SECONDS", "30"))  # checked every 5 s (TICK_5)
# what a worker that stops for good writes last (jobs/data_dir_check.py, make_celery.py)
FINAL_MARK = f"exit status {EX_CONFIG}"
LAST_LINES = 5  # of a program's log, read for FINAL_MARK after a failed start (Celery's own stop lines follow it)
TAIL_BYTES = 64 * 1024
REASON_CHARS = 800  # of the log line quoted as the reason


def _rpc():  # an XML-RPC proxy to our supervisord (its replies are untyped)
    return childutils.getRPCInterface(os.environ).supervisor


def log_tail(info: dict) -> list[str]:
    """The non-empty lines at the end of the program's log."""
    try:
        with open(info["stdout_logfile"], "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - TAIL_BYTES))
            text = fh.read().decode(errors="replace")
    except (OSError, KeyError):
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def reason_in(lines: list[str]) -> str:
    """The line of a worker's log that says why it stopped: its last CRITICAL or "exit status 78" line."""
    telling = [line for line in lines if "CRITICAL" in line or FINAL_MARK in line]
    line = (telling or lines or ["(its log says nothing)"])[-1]
    return line if len(line) <= REASON_CHARS else line[:REASON_CHARS] + "..."


def stopped_for_good(name: str, lines: list[str]) -> None:
    note(f"{name} stopped with exit status {EX_CONFIG} (EX_CONFIG: its settings cannot work here) and is NOT "
         f"restarted: {reason_in(lines)} -- fix that, then start it again (supervisorctl ... start {name}, or "
         "restart run.py); one on another data directory is also in GET /health's stopped_workers")


def check_final_exit(name: str, event: str, expected: str | None, fatal: dict[str, float]) -> None:
    """A worker that exited 78 is left down: say so (EXITED: supervisord's exitcodes kept it down), or stop it.

    An exit within startsecs is a failed start to supervisord (BACKOFF, then FATAL), whatever its status, and the
    status is not kept: its log's last lines say it (supervisord may write them after the event, so the next TICK
    looks again)."""
    rpc = _rpc()
    info = rpc.getProcessInfo(name)
    if event == "PROCESS_STATE_EXITED":
        if expected == "1" and info["exitstatus"] == EX_CONFIG and info["statename"] == "EXITED":
            stopped_for_good(name, log_tail(info))
        return
    if info["statename"] != "BACKOFF" and not (info["statename"] == "FATAL" and name in fatal):
        return  # (a FATAL one left for good is no longer among those to retry: said once)
    lines = log_tail(info)
    if not any(FINAL_MARK in line for line in lines[-LAST_LINES:]):
        return
    fatal.pop(name, None)  # no retry either
    if info["statename"] == "BACKOFF":
        try:
            rpc.stopProcess(name, False)
        except Exception as e:  # noqa: BLE001 - it left BACKOFF meanwhile
            note(f"could not stop {name}: {e}")
            return
    stopped_for_good(name, lines)


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
        try:
            childutils.getRPCInterface(os.environ).supervisor.startProcess(name, False)
        except Exception as e:  # noqa: BLE001 - a refused start (already running, stopping) is no reason to die
            if stopping(e):
                raise  # the whole service is stopping: nothing to say (respond)
            note(f"{name} gave up starting {now - since:.0f} s ago; could not start it again: {e}")
            continue
        note(f"{name} gave up starting {now - since:.0f} s ago; starting it again")


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
    if event in ("PROCESS_STATE_EXITED", "PROCESS_STATE_BACKOFF", "PROCESS_STATE_FATAL"):
        check_final_exit(name, event, info.get("expected"), fatal)
    elif event.startswith("TICK"):
        for other in _rpc().getAllProcessInfo():
            if other["statename"] in ("BACKOFF", "FATAL"):
                check_final_exit(other["name"], event, None, fatal)
        sweep(session, own_group)
        retry_fatal(fatal)


def stopping(error: Exception) -> bool:
    """supervisord's answer while it stops everything (run.py's stop): there is nothing left to guard or retry."""
    return isinstance(error, xmlrpc.client.Fault) and error.faultCode == Faults.SHUTDOWN_STATE


def main() -> None:
    session, own_group = os.getsid(0), os.getpgid(0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # supervisord stopping: a normal end
    fatal: dict[str, float] = {}
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        respond(headers["eventname"], payload, fatal, session, own_group)
        childutils.listener.ok(sys.stdout)


def respond(event: str, payload: str, fatal: dict[str, float], session: int, own_group: int) -> None:
    """handle() the event; what fails is said, and the next events are handled all the same."""
    try:
        handle(event, payload, fatal, session, own_group)
    except Exception as e:  # noqa: BLE001 - a failed sweep must not stop the next events
        # a tick sent just before a stop began, handled after: supervisord refuses every call then, and the guard
        # had printed "error handling TICK_5: <Fault 6: 'SHUTDOWN_STATE'>" in a clean stop
        if not stopping(e):
            note(f"error handling {event}: {e}")


if __name__ == "__main__":
    main()
