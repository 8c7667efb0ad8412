"""The worker's webhook sender threads stop when the worker stops. They wait for work in a BLPOP of up to
IDLE_SECONDS (5 s), and a stop had waited that out: every worker's stop (Ctrl-C, systemctl stop, run.py's stop) took
5 s more than its jobs needed. A real sender (threads, BLPOP) on a database of its own of the test's valkey."""

from __future__ import annotations

import time

import redis

from jobs.webhooks import WebhookQueue, WebhookSender
from tests.conftest import wait_for

DB = 13  # the webhook tests' own databases: 11, 12 (test_api_contract.py), this one


def test_a_stop_wakes_the_senders_waiting_for_work(redis_url, settings):
    url = redis_url.rsplit("/", 1)[0] + f"/{DB}"
    own, blocking = redis.Redis.from_url(url), redis.Redis.from_url(url)
    sender = WebhookSender(WebhookQueue(own, settings), blocking_client=blocking, threads=3)
    sender.start()
    try:
        # all three wait in BLPOP (nothing is due: each waits its IDLE_SECONDS), as a worker's senders mostly do
        wait_for(lambda: sum(c["db"] == str(DB) and c["cmd"] == "blpop" for c in own.client_list()) == 3,
                 timeout=30, message="the three senders waiting in BLPOP")
        started = time.monotonic()
        sender.stop()
        took = time.monotonic() - started
        assert not any(t.is_alive() for t in sender._threads)
        assert took < 2.0, f"the stop took {took:.1f} s (the senders sat out their {sender.IDLE_SECONDS:g} s wait)"
        assert own.keys("*stop*") == []  # the wake-up list is removed with the stop
    finally:
        sender.stop()
        own.flushdb()
