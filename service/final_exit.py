"""A container's worker command: run the worker as a child, and when it exits 78 (EX_CONFIG) stay up, idle, instead.

    python -m service.final_exit [--mark PATH] -- celery -A make_celery worker ...

Compose's restart policies cannot tell one exit status from another (`on-failure[:N]` counts every failure: a cap
would also end the restarts a Redis outage needs), so under `restart: unless-stopped` a worker whose settings cannot
work here (a DATA_DIR that is not the service's, a malformed setting) was restarted in a loop, each start taking a
job and handing it back. Held here, the container stays up and takes no job; this says why on its log, and `--mark`
names a file written then, which the Compose healthcheck reads: `docker compose ps` shows the worker unhealthy. Any
other exit is the child's own, for the restart policy. Signals (docker stop's SIGTERM) go on to the child; held,
SIGTERM or SIGINT ends this with status 78.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path

from config import EX_CONFIG
from service.launch import command_after

DEFAULT_MARK = "/tmp/music-analyzer-worker-stopped"  # the container's own /tmp
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
SIGNAL_EXIT_BASE = 128  # a shell's status for a child killed by signal N: 128 + N


def hold(mark: Path) -> int:
    """Stay up, taking no job, until stopped; the reason on stderr and in `mark`."""
    why = (f"final_exit: the worker exited with status {EX_CONFIG} (EX_CONFIG): its settings cannot work here, "
           "its log above says which; it is NOT restarted (it would take a job and hand it back at every start). "
           "Fix that, then recreate it: docker compose up -d --force-recreate <service>")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    mark.write_text(why + "\n")
    print(why, file=sys.stderr, flush=True)
    stop.wait()
    return EX_CONFIG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mark", default=DEFAULT_MARK, help="a file written when the worker exits 78 (healthcheck)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = command_after(parser, args.command)
    mark = Path(args.mark)
    mark.unlink(missing_ok=True)  # a container restarted by hand starts healthy
    children: list[subprocess.Popen] = []

    def forward(signum: int, _frame: object) -> None:  # the worker's graceful stop is its own (warm shutdown)
        for child in children:
            child.send_signal(signum)

    for signum in FORWARDED:  # before the start: a stop as it starts reaches it too
        signal.signal(signum, forward)
    children.append(subprocess.Popen(command))
    code = children[0].wait()
    for signum in FORWARDED:
        signal.signal(signum, signal.SIG_DFL)
    if code == EX_CONFIG:
        return hold(mark)
    return code if code >= 0 else SIGNAL_EXIT_BASE - code


if __name__ == "__main__":
    sys.exit(main())
