"""A supervised program's wrapper: wait until Redis answers, then exec the program in its place.

    python -m service.launch --wait-redis URL -- celery -A make_celery worker ...

The exec keeps the pid, so supervisord signals and restarts the real program. A worker started (or
restarted) while Redis is down waits here instead of crashing into supervisord's backoff and FATAL.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

from redis_server import redis_answers

LOG_EVERY_SECONDS = 10.0


def wait_for_redis(url: str, interval: float = 0.2) -> None:
    started = last_note = time.monotonic()
    while not redis_answers(url):
        now = time.monotonic()
        if now - last_note >= LOG_EVERY_SECONDS:
            print(f"launch: Redis has not answered for {now - started:.0f} s; waiting", file=sys.stderr, flush=True)
            last_note = now
        threading.Event().wait(interval)


def command_after(parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """The command a wrapper runs: argparse's REMAINDER after `--`, which it keeps; a usage error when empty."""
    command = words[1:] if words[:1] == ["--"] else words
    if not command:
        parser.error("no command to run after --")
    return command


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wait-redis", required=True, metavar="URL")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = command_after(parser, args.command)
    wait_for_redis(args.wait_redis)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
