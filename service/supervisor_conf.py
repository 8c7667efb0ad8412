"""supervisord.conf for one run: the programs, the guard listener, a control socket, logs in DATA_DIR/logs.

Restart policy, for every program: restarted whenever it exits unless supervisord is stopping
(autorestart=true), but for a worker's exit status 78 (EX_CONFIG: its settings cannot work here, e.g. a DATA_DIR
that is not the service's), which leaves it down, the guard saying why on run.py's output.
An exit within `startsecs` of its start is a failed start: supervisord waits
1 s, 2 s, ... (its backoff) up to SUPERVISE_START_RETRIES (5) tries, then marks it FATAL; the guard
then starts it again every GUARD_FATAL_RETRY_SECONDS (30 s), so a program that cannot start
(valkey on a full disk, a port taken) comes back by itself once the cause is gone. A stop sends
the program's stop signal to its main process and, after `stopwaitsecs`, SIGKILL to its whole
process group.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shlex
import stat
import sys

from service.layout import RunLayout
from service.programs import Program

LOG_BYTES = "20MB"
LOG_BACKUPS = 3


def start_retries() -> int:
    """supervisord's tries of a program that exits within startsecs (waiting 1 s, 2 s, ... between them)."""
    return int(os.environ.get("SUPERVISE_START_RETRIES", "5"))


def _value(text: str) -> str:
    return text.replace("%", "%%")  # supervisord expands %(name)s in every value


def _program(p: Program, layout: RunLayout, directory: str) -> str:
    return "\n".join([
        f"[program:{p.name}]",
        f"command={_value(shlex.join(p.command))}",
        f"directory={_value(directory)}",
        f"priority={p.priority}",
        "autostart=true",
        *_restart_policy(p),
        f"startsecs={p.startsecs}",
        f"startretries={start_retries()}",
        f"stopsignal={p.stopsignal}",
        f"stopwaitsecs={p.stopwaitsecs}",
        "stopasgroup=false",  # the main process stops its children itself (graceful)
        "killasgroup=true",  # but a SIGKILL must not leave them behind
        "redirect_stderr=true",
        f"stdout_logfile={_value(str(layout.logs / (p.name + '.log')))}",
        f"stdout_logfile_maxbytes={LOG_BYTES}",
        f"stdout_logfile_backups={LOG_BACKUPS}",
        "",
    ])


def _restart_policy(p: Program) -> list[str]:
    """Restarted whenever it exits, but for its final exit statuses (exitcodes: "expected", not restarted). An exit
    within startsecs is a failed start whatever its status (BACKOFF): the guard stops such a program itself when its
    log says it exited for good (service/guard.py)."""
    if not p.final_exit_codes:
        return ["autorestart=true"]
    return ["autorestart=unexpected", f"exitcodes={','.join(str(c) for c in p.final_exit_codes)}"]


def append_to_output_files() -> None:
    """run.py's stdout and stderr, where they are regular files, append from now on (O_APPEND on the open file
    they are, shared with supervisord): the guard's notes reach that file through `/dev/stdout` opened anew,
    appending, and supervisord's next line, written at the offset it shares with run.py, overwrote each note in a
    stranger's `bash run.sh > run.log 2>&1` ("lled 2 process(es) ... left behind"; of an earlier one, nothing)."""
    for fd in (1, 2):
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
        except OSError:  # closed, or a file that refuses the flag: written as before
            pass


def _guard() -> str:
    command = shlex.join([sys.executable, "-m", "service.guard"])
    return "\n".join([
        "[eventlistener:guard]",
        f"command={_value(command)}",
        "events=PROCESS_STATE_EXITED,PROCESS_STATE_BACKOFF,PROCESS_STATE_FATAL,TICK_5",
        "priority=1",  # first up, last down: it must see every other program's exit
        "autorestart=true",
        "stdout_logfile=NONE",  # its stdout is the event protocol
        "stderr_logfile=/dev/stdout",  # its notes join supervisord's own lines on run.py's output
        "stderr_logfile_maxbytes=0",
        "",
    ])


def render(layout: RunLayout, programs: list[Program], directory: str) -> str:
    sock = _value(str(layout.supervisor_socket))
    head = "\n".join([
        "; written by run.py (service/supervisor_conf.py) for this run; regenerated at every start",
        "[unix_http_server]",
        f"file={sock}",
        "chmod=0700",
        "",
        "[supervisord]",
        "nodaemon=true",  # run.py's child, in the foreground; its log lines also go to stdout
        f"logfile={_value(str(layout.logs / 'supervisord.log'))}",
        f"logfile_maxbytes={LOG_BYTES}",
        f"logfile_backups={LOG_BACKUPS}",
        f"pidfile={_value(str(layout.run / 'supervisord.pid'))}",
        f"childlogdir={_value(str(layout.logs))}",
        "loglevel=info",
        # naming the account it already runs as drops nothing, but stops a warning at every start as root
        f"user={pwd.getpwuid(os.geteuid()).pw_name}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{sock}",
        "",
    ])
    return head + "\n" + _guard() + "\n" + "\n".join(_program(p, layout, directory) for p in programs)
