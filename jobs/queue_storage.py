"""valkey on a full disk: writes refused with MISCONF until its append-only file can be written again.

redis-py raises a plain `ResponseError` for it, which kombu counts as a channel error: the Celery consumer's
BRPOP got it and the worker exited ("Unrecoverable error: ResponseError"), and every worker of the service
with it. Here MISCONF becomes `QueueStorageFull`, a *connection* error, so the consumer drops the connection
and reconnects with Celery's own backoff (restarts throttled to about one a second) until valkey accepts
writes again, which it does by itself once space returns (redis_server.EMBEDDED_SETTINGS). The API answers
it with 507 `insufficient_storage` (api/errors.py), not 503.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class QueueStorageFull(RedisConnectionError):
    """The Redis server refuses writes because it cannot persist them (MISCONF): as a rule a full disk."""


def install() -> None:
    """Map the server's MISCONF answers to QueueStorageFull (every redis-py parser reads this one table)."""
    try:  # redis-py's error table (redis._parsers since 5.0): private, so a move is survived with a warning
        from redis._parsers.base import BaseParser
    except ImportError:
        log.warning("redis-py's error table moved: a full disk under Redis will stop the Celery workers")
        return
    BaseParser.EXCEPTION_CLASSES.setdefault("MISCONF", QueueStorageFull)
    _release_refused_acks()
    _answered_pings_pass()


def _answered_pings_pass() -> None:
    """A connection's health check (redis-py's PING before a command on a connection idle for
    `health_check_interval`, and on a new one) passes when valkey answers MISCONF: it refuses PING with the writes,
    yet the connection works and reads are served. The check had failed every read made on a new or idle connection
    while the disk was full (507 for job status, listings and session pages alike, once the API idled 30 s), and a
    fresh pool process's first read of its job."""
    from redis.connection import AbstractConnection
    from redis.utils import str_if_bytes

    if getattr(AbstractConnection, "_ma_answered_pings_pass", False):
        return

    def send_ping(self: AbstractConnection) -> None:  # redis-py's own, but for MISCONF
        self.send_command("PING", check_health=False)
        try:
            answer = self.read_response(disconnect_on_error=False)  # the connection stays open
        except QueueStorageFull:
            # the server answered: this connection is healthy. redis-py's Python parsers rewind a read that raised (to
            # read it again after an interruption): this answer was read whole, and is dropped, or the next command
            # would read it as its own
            buffer = getattr(self._parser, "_buffer", None)
            if buffer is None or not hasattr(buffer, "readline"):
                raise  # a parser that keeps no such buffer: as before
            buffer.readline()  # the "-MISCONF ..." line, read again
            buffer.purge()
            return
        if str_if_bytes(answer) != "PONG":
            raise RedisConnectionError("Bad response from PING health check")

    AbstractConnection._send_ping = send_ping  # type: ignore[method-assign]
    AbstractConnection._ma_answered_pings_pass = True  # type: ignore[attr-defined]


def _release_refused_acks() -> None:
    """An acknowledgement valkey refuses (MISCONF) still frees the consumer's prefetch slot.

    kombu's Redis QoS removes the message from its `unacked` hash, then frees the slot: a refused removal raised
    before the second step, and the worker (prefetch 1) took no message again, for good, its heartbeat alive (a
    stranger's job delivered as the disk filled: every later job stayed `queued`). The message stays in `unacked`,
    restored after the visibility timeout; its job has ended by then and the redelivery is dropped (JobStore.start).
    """
    from kombu.transport import redis as kombu_redis
    from kombu.transport import virtual

    qos = kombu_redis.QoS
    if getattr(qos, "_ma_releases_refused", False):
        return

    def released(step: Callable[..., None], what: str) -> Callable[..., None]:
        def call(self: virtual.QoS, delivery_tag: str, *args: object, **kwargs: object) -> None:
            try:
                step(self, delivery_tag, *args, **kwargs)
            except QueueStorageFull as e:
                log.warning("the job queue refused the %s of message %s (%s): its slot is freed, the message "
                            "comes back after the visibility timeout (a job not started: once a worker's recovery "
                            "finds it, jobs/unacked.py)", what, delivery_tag, e)
                virtual.QoS.ack(self, delivery_tag)
        return call

    qos.ack = released(qos.ack, "acknowledgement")  # type: ignore[method-assign]
    qos.reject = released(qos.reject, "rejection")  # type: ignore[method-assign]
    qos._ma_releases_refused = True  # type: ignore[attr-defined]


def tidy(step: Callable[[], object], what: str) -> None:
    """A read's housekeeping write (forgetting an expired worker, an ended job, an expired record's id): skipped
    when Redis takes no write now, the next read does it. On a full disk under valkey such writes had failed the
    reads around them with 507 "nothing was queued" (a stranger's job listings and job status, every other try)."""
    try:
        step()
    except RedisError as e:
        log.info("not now (%s): %s", e, what)
