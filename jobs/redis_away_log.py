"""One log line per Redis outage for a worker's background loops (the heartbeat, the webhook senders).

A worker whose REDIS_URL does not answer (a typo, a firewall, the server's Redis bound to 127.0.0.1: a stranger's
extra worker on another machine) retries for as long as it runs, by design. Each loop had logged a full traceback at
each try: ~40 tracebacks (70 lines a second) in a worker's first 40 s, the heartbeat every beat and each of the four
webhook senders every 5 s, and Celery's one clear line ("consumer: Cannot connect to redis://...") was lost among
them. Now the first failure of an outage says what and why in one line, later ones are quiet, and the first success
after it says Redis answers again. Any other error still logs its traceback every time.
"""

from __future__ import annotations

import logging
import threading

import redis

AWAY = (redis.ConnectionError, redis.TimeoutError)  # BusyLoadingError (a restarting Redis) is a ConnectionError


class RedisAwayLog:
    """Shared by the threads of one loop (the webhook senders): one of them tells the outage, any of them its end."""

    def __init__(self, logger: logging.Logger, what: str):
        self.log = logger
        self.what = what
        self._away = False
        self._lock = threading.Lock()

    def failed(self, error: BaseException) -> None:
        if not isinstance(error, AWAY):
            self.log.warning(self.what, exc_info=error)
            return
        with self._lock:
            first, self._away = not self._away, True
        if first:
            self.log.warning("%s: Redis does not answer (%s); retrying quietly until it does", self.what, error)

    def answered(self) -> None:
        if not self._away:  # the common case: one read of a bool, no lock
            return
        with self._lock:
            was, self._away = self._away, False
        if was:
            self.log.warning("%s: Redis answers again", self.what)


def warn_once(logger: logging.Logger, what: str, error: BaseException) -> None:
    """A step done once (at a worker's start) that met an error: one line when Redis is away, else the traceback."""
    if isinstance(error, AWAY):
        logger.warning("%s (Redis does not answer: %s)", what, error)
    else:
        logger.warning(what, exc_info=error)
