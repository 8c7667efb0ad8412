"""Webhooks: a job's start, progress and completion POSTed to the URL its request named, signed, retried.

- A job-creating request may carry `"webhook": "<url>"` and `"webhook_events_filter": ["start", "progress",
  "completed"]` (default: all). The target host must be allowed by WEBHOOK_ALLOWED_HOSTS (comma list of host
  names, IP addresses or CIDR networks, each with an optional `:port` limiting it to that port; empty = no
  webhooks at all, loopback only when listed), checked
  when the job is created and again, on the resolved addresses, at every delivery (a name may be pointed
  elsewhere in between), which then connects to an address it checked (jobs/webhook_hosts.py).
- Deliveries follow the Standard Webhooks convention: headers `webhook-id`, `webhook-timestamp` (Unix
  seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` under the key of
  WEBHOOK_SECRET (`whsec_<base64>` or any string), then a second one under the job owner's own key (derived
  from it, GET /webhooks/secret); the body is `{"type": "job.<event>", "timestamp", "data":
  <the job's public record>}`.
- They are queued in Redis (a sorted set by due time) and sent by a thread in every worker process (never
  by a request thread): a delivery is claimed atomically with a lease, so exactly one worker sends it; a
  non-2xx answer or a network error is retried with exponential backoff (WEBHOOK_MAX_ATTEMPTS), and each
  attempt is recorded for GET /jobs/<id>/webhooks. Progress events are at most one per
  WEBHOOK_PROGRESS_SECONDS per job; start and completed are always sent. One job's deliveries go out in
  order: each waits until the job's earlier ones were delivered or given up (a progress event the job's
  end overtook is dropped, never sent late).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
import requests

from worker.errors import InvalidRequestError

from . import keys, metrics
from .keys import text
from .record import TERMINAL_STATES
from .webhook_hosts import check_host, deliver, pin_address, url_host, url_port
from .webhook_signing import (  # noqa: F401 (callers import them here)
    SECRET_FILE,
    secret_key,
    secret_text,
    sign,
    signatures,
    user_secret_text,
    verify,
)

log = logging.getLogger(__name__)

EVENTS = ("start", "progress", "completed")
DELIVERY_TIMEOUT_SECONDS = 10.0  # one attempt, all of it: connect, send, the answer's status and headers
LEASE_SECONDS = 60  # a claimed delivery is retried by another worker if its sender died mid-attempt
BACKOFF_BASE_SECONDS = 1.0  # attempt n waits base x 2^(n-1), at most BACKOFF_MAX_SECONDS
BACKOFF_MAX_SECONDS = 600.0
HISTORY_TTL_SECONDS = 7 * 24 * 3600
ORDER_GAP_SECONDS = 0.5  # a delivery waiting behind its job's earlier one is due this long after it
MAX_URL_CHARS = 2048

# KEYS[1] = due zset; ARGV[1] = now, ARGV[2] = lease end. Takes the earliest due delivery and pushes its
# due time to the lease end, so no other worker takes it until then. Returns its id, or false.
_CLAIM_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then return false end
redis.call('ZADD', KEYS[1], ARGV[2], due[1])
return due[1]
"""


@dataclass(frozen=True)
class WebhookRequest:
    """What a job-creating request asked for (validated)."""

    url: str
    events: tuple[str, ...]


def parse_request(body: Mapping[str, Any], settings: Mapping[str, Any]) -> WebhookRequest | None:
    """The `webhook` / `webhook_events_filter` keys of a request body, checked (400), or None."""
    url = body.get("webhook")
    events = body.get("webhook_events_filter")
    if url is None:
        if events is not None:
            raise InvalidRequestError("webhook_events_filter needs a webhook", code="invalid_webhook")
        return None
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise InvalidRequestError("webhook must be an http(s) URL", code="invalid_webhook")
    host = url_host(url)  # the host the delivery will connect to, as the check reads it
    chosen = EVENTS if events is None else events
    if not isinstance(chosen, list | tuple) or not chosen or any(e not in EVENTS for e in chosen):
        raise InvalidRequestError(f"webhook_events_filter must list some of {', '.join(EVENTS)}",
                                  code="invalid_webhook", details={"valid": list(EVENTS)})
    check_host(host, url_port(url), settings, resolve=False)
    return WebhookRequest(url=url, events=tuple(e for e in EVENTS if e in chosen))


class WebhookQueue:
    """Deliveries in Redis: enqueue (any process), claim and send (worker threads), history per job."""

    def __init__(self, client: redis.Redis, settings: Mapping[str, Any]):
        self.r = client
        self.settings = settings
        self._claim = self.r.register_script(_CLAIM_LUA)

    def enqueue(self, job: Mapping[str, Any], event: str, payload: Mapping[str, Any]) -> str | None:
        """Queue `event` for `job` if it asked for webhooks of that kind; returns the delivery id."""
        hook = job.get("webhook")
        if not hook or event not in (job.get("webhook_events") or ()):
            return None
        if event == "progress" and not self._progress_due(job["job_id"]):
            return None
        delivery_id = f"msg_{uuid.uuid4().hex}"
        body = {"type": f"job.{event}", "timestamp": time.time(), "data": dict(payload)}
        record = {"id": delivery_id, "job_id": job["job_id"], "owner": job.get("owner") or "", "event": event,
                  "url": hook,
                  "body": json.dumps(body, default=str), "attempts": 0, "state": "pending", "created_at": time.time()}
        pipe = self.r.pipeline()
        pipe.hset(keys.webhook(delivery_id), mapping=record)  # type: ignore[arg-type]  # redis-py's key typing
        pipe.expire(keys.webhook(delivery_id), HISTORY_TTL_SECONDS)
        pipe.rpush(keys.job_webhooks(job["job_id"]), delivery_id)
        pipe.expire(keys.job_webhooks(job["job_id"]), HISTORY_TTL_SECONDS)
        pipe.zadd(keys.WEBHOOKS_DUE, {delivery_id: time.time()})
        pipe.lpush(keys.WEBHOOKS_WAKE, 1)  # a waiting sender wakes now instead of at its next due time
        pipe.ltrim(keys.WEBHOOKS_WAKE, 0, 63)
        pipe.execute()
        return delivery_id

    def _progress_due(self, job_id: str) -> bool:
        every = float(self.settings.get("WEBHOOK_PROGRESS_SECONDS") or 0)
        return every <= 0 or bool(self.r.set(keys.webhook_progress(job_id), "1", nx=True, px=int(every * 1000)))

    def history(self, job_id: str) -> list[dict[str, Any]]:
        ids = [text(i) for i in self.r.lrange(keys.job_webhooks(job_id), 0, -1)]
        pipe = self.r.pipeline()
        for i in ids:
            pipe.hgetall(keys.webhook(i))
        out = []
        for raw in pipe.execute():
            if raw:
                rec = {text(k): text(v) for k, v in raw.items()}
                out.append({"id": rec["id"], "event": rec["event"], "url": rec["url"], "state": rec["state"],
                            "attempts": int(rec["attempts"]), "status_codes": json.loads(rec.get("codes") or "[]"),
                            "last_error": rec.get("last_error") or None,
                            "created_at": float(rec["created_at"]),
                            "delivered_at": float(rec["delivered_at"]) if rec.get("delivered_at") else None})
        return out

    def seconds_to_next(self, *, at_most: float) -> float:
        """Seconds until the earliest delivery is due (0 if one is), at most `at_most`."""
        first = self.r.zrange(keys.WEBHOOKS_DUE, 0, 0, withscores=True)
        if not first:
            return at_most
        return min(max(0.0, float(first[0][1]) - time.time()), at_most)

    def claim(self) -> str | None:
        now = time.time()
        claimed = self._claim(keys=[keys.WEBHOOKS_DUE], args=[now, now + LEASE_SECONDS])
        return text(claimed) if claimed else None

    def owner_of(self, delivery_id: str) -> str | None:
        """Whose job a delivery is of ("" for records without one), or None for a delivery that is gone."""
        found, owner = self.r.hmget(keys.webhook(delivery_id), ["id", "owner"])
        return None if found is None else text(owner or b"")

    def defer(self, delivery_id: str, seconds: float) -> None:
        """Make a claimed delivery due again in `seconds`, no attempt counted (its owner's sends are busy)."""
        self.r.zadd(keys.WEBHOOKS_DUE, {delivery_id: time.time() + seconds})

    def send(self, delivery_id: str) -> str:
        """One attempt at a claimed delivery. Returns its state: delivered, pending (retry later), failed,
        superseded (a progress event whose job has ended: not sent) or waiting (behind an earlier delivery of
        its job that has not ended: no attempt counted)."""
        raw = self.r.hgetall(keys.webhook(delivery_id))
        if not raw:
            self.r.zrem(keys.WEBHOOKS_DUE, delivery_id)
            return "gone"
        rec = {text(k): text(v) for k, v in raw.items()}
        if rec["event"] == "progress" and self._job_ended(rec["job_id"]):
            # deferred behind its owner's other sends (or retried) until after the job's end: sent now, it reached
            # a stranger's receiver after job.completed and left the job shown running; dropped, never sent
            pipe = self.r.pipeline()
            pipe.zrem(keys.WEBHOOKS_DUE, delivery_id)
            pipe.hset(keys.webhook(delivery_id), mapping={"state": "superseded"})
            pipe.execute()
            metrics.WEBHOOK_DELIVERIES.labels("superseded").inc()
            self._release_next(rec["job_id"], delivery_id)
            return "superseded"
        earlier = self._earlier_open(rec["job_id"], delivery_id)
        if earlier is not None:
            # one job's events reach the receiver in the order they happened: a start whose first attempt
            # failed had been retried after job.completed, and a stranger's receiver showed the finished job
            # as running. Due again when the earlier one is (it makes this one due at once when it ends).
            due = float(self.r.zscore(keys.WEBHOOKS_DUE, earlier) or 0)
            self.r.zadd(keys.WEBHOOKS_DUE, {delivery_id: max(due, time.time()) + ORDER_GAP_SECONDS})
            return "waiting"
        attempt = int(rec["attempts"]) + 1
        code, error = self._post(rec)
        codes = json.loads(rec.get("codes") or "[]") + [code]
        max_attempts = int(self.settings.get("WEBHOOK_MAX_ATTEMPTS") or 5)
        state = "delivered" if code and 200 <= code < 300 else ("failed" if attempt >= max_attempts else "pending")
        fields: dict[str, Any] = {"attempts": attempt, "codes": json.dumps(codes), "state": state,
                                  "last_error": error or ""}
        pipe = self.r.pipeline()
        if state == "delivered":
            fields["delivered_at"] = time.time()
        if state == "pending":
            wait = min(BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS)
            pipe.zadd(keys.WEBHOOKS_DUE, {delivery_id: time.time() + wait})
        else:
            pipe.zrem(keys.WEBHOOKS_DUE, delivery_id)
        pipe.hset(keys.webhook(delivery_id), mapping=fields)  # type: ignore[arg-type]  # redis-py's key typing
        pipe.execute()
        metrics.WEBHOOK_DELIVERIES.labels(state).inc()
        if state != "pending":
            self._release_next(rec["job_id"], delivery_id)
        if state != "delivered":  # an operator's log had nothing of a receiver failing (a stranger's finding)
            log.warning("webhook %s of job %s (%s) to %s: attempt %d %s; %s", delivery_id, rec["job_id"], rec["event"],
                        urlsplit(rec["url"]).hostname, attempt, error or "failed",
                        "giving up" if state == "failed" else "will retry")
        return state

    def _around(self, job_id: str, delivery_id: str) -> tuple[list[str], list[str]]:
        """The job's deliveries queued before `delivery_id` and after it (both empty if it is not listed)."""
        ids = [text(i) for i in self.r.lrange(keys.job_webhooks(job_id), 0, -1)]
        if delivery_id not in ids:
            return [], []
        at = ids.index(delivery_id)
        return ids[:at], ids[at + 1:]

    def _earlier_open(self, job_id: str, delivery_id: str) -> str | None:
        """The first delivery of the same job queued before `delivery_id` and not yet ended, or None."""
        earlier, _ = self._around(job_id, delivery_id)
        pipe = self.r.pipeline()
        for i in earlier:
            pipe.hget(keys.webhook(i), "state")
            pipe.zscore(keys.WEBHOOKS_DUE, i)
        found = pipe.execute() if earlier else []
        # pending and still scheduled (one not scheduled would never end, and this one would wait for ever)
        return next((i for i, st, due in zip(earlier, found[::2], found[1::2], strict=True)
                     if st is not None and text(st) == "pending" and due is not None), None)

    def _release_next(self, job_id: str, delivery_id: str) -> None:
        """`delivery_id` has ended: the job's next delivery still scheduled, waiting behind it, is due now (the
        very next may have ended already: a progress event dropped while the start was being retried, and the
        completion behind it had waited out the start's 60 s lease)."""
        _, later = self._around(job_id, delivery_id)
        pipe = self.r.pipeline()
        for i in later:
            pipe.zscore(keys.WEBHOOKS_DUE, i)
        due = pipe.execute() if later else []
        following = next((i for i, d in zip(later, due, strict=True) if d is not None), None)
        if following is not None:
            pipe = self.r.pipeline()
            pipe.zadd(keys.WEBHOOKS_DUE, {following: time.time()}, xx=True, lt=True)  # only sooner, never re-added
            pipe.lpush(keys.WEBHOOKS_WAKE, 1)
            pipe.ltrim(keys.WEBHOOKS_WAKE, 0, 63)
            pipe.execute()

    def _job_ended(self, job_id: str) -> bool:
        state = self.r.hget(keys.job(job_id), "state")
        return state is not None and text(state) in TERMINAL_STATES

    def _post(self, rec: Mapping[str, str]) -> tuple[int | None, str | None]:
        url = rec["url"]
        try:  # a delivery queued before url_host existed is read as the connection would read it, or not sent
            host = url_host(url)
            addresses = check_host(host, url_port(url), self.settings, resolve=True)
        except InvalidRequestError as e:
            return None, e.message
        pin = pin_address(host, url_port(url), addresses, self.settings)  # a checked address, never a second lookup
        body = rec["body"].encode()
        stamp = int(time.time())
        headers = {"content-type": "application/json", "user-agent": "music-analyzer-webhooks",
                   "webhook-id": rec["id"], "webhook-timestamp": str(stamp),
                   "webhook-signature": signatures(self.settings, rec.get("owner", ""), rec["id"], stamp, body)}
        try:
            # no redirects: a redirect could lead to a host the allow-list never saw
            code = deliver(url, pin, data=body, headers=headers, seconds=DELIVERY_TIMEOUT_SECONDS)
        except TimeoutError:
            return None, f"Timeout: no answer within {DELIVERY_TIMEOUT_SECONDS:g} s"
        except (requests.RequestException, OSError) as e:
            return None, f"{type(e).__name__}"
        if 200 <= code < 300:
            return code, None
        if 300 <= code < 400:  # requests calls a 3xx "ok": without these words the listing showed no error
            return code, f"HTTP {code}: redirects are not followed; give the webhook its final URL"
        return code, f"HTTP {code}"


class WebhookSender:
    """Daemon threads of a worker process (`threads` of them): send due deliveries until stopped.

    Between deliveries each blocks on the wake list (BLPOP) until the next delivery is due, at most
    IDLE_SECONDS: a new delivery wakes a sender at once, a retry's backoff is waited out, nothing polls.
    One owner's deliveries take at most `per_owner` of the threads at a time (a claimed delivery over that is
    deferred by OWNER_BUSY_SECONDS, no attempt counted): a stranger's three receivers that each took the
    10-second timeout held the one sender thread there was, and another user's webhook waited 7-11 s behind them.
    `stop` wakes the threads through a list of this sender's own, which each also waits on: they had sat out the
    rest of their BLPOP (up to IDLE_SECONDS), and every worker's stop (Ctrl-C, systemctl stop) took 5 s more.
    """

    IDLE_SECONDS = 5.0
    OWNER_BUSY_SECONDS = 1.0

    def __init__(self, queue: WebhookQueue, *, blocking_client: redis.Redis, threads: int = 4,
                 per_owner: int = 1):
        self.queue = queue
        self.blocking = blocking_client
        self.per_owner = max(1, per_owner)
        self._stop = threading.Event()
        self._busy: dict[str, int] = {}  # owner -> deliveries of theirs being sent by this process
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, name=f"ma-webhooks-{i}", daemon=True)
                         for i in range(max(1, threads))]
        self._stop_key = f"{keys.WEBHOOKS_WAKE}:stop:{uuid.uuid4().hex}"  # this sender's own: `stop` pushes here

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        try:  # one wake-up per thread: a thread waiting in BLPOP returns now, one sending finds the event set
            # (through the queue's client, which has a read timeout: a hung Redis must not hold the stop for ever)
            wake = self.queue.r.pipeline()
            wake.rpush(self._stop_key, *[1] * len(self._threads))
            wake.expire(self._stop_key, 60)
            wake.execute()
        except redis.RedisError:  # Redis away: the threads end once their wait runs out, as before
            log.debug("could not wake the webhook senders", exc_info=True)
        deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS + 5
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        try:
            self.queue.r.delete(self._stop_key)
        except redis.RedisError:
            log.debug("could not remove the webhook senders' stop list", exc_info=True)

    def _take(self, owner: str) -> bool:
        with self._lock:
            if self._busy.get(owner, 0) >= self.per_owner:
                return False
            self._busy[owner] = self._busy.get(owner, 0) + 1
            return True

    def _release(self, owner: str) -> None:
        with self._lock:
            self._busy[owner] -= 1
            if not self._busy[owner]:
                del self._busy[owner]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delivery = self.queue.claim()
                if delivery is not None:
                    self._send(delivery)
                    continue
                wait = self.queue.seconds_to_next(at_most=self.IDLE_SECONDS)
                if wait > 0:
                    self.blocking.blpop([keys.WEBHOOKS_WAKE, self._stop_key], timeout=max(wait, 0.01))
            except Exception:  # Redis away: keep trying; a claimed delivery's lease makes it due again
                log.warning("webhook sender", exc_info=True)
                self._stop.wait(self.IDLE_SECONDS)

    def _send(self, delivery: str) -> None:
        owner = self.queue.owner_of(delivery)
        if owner is None:
            self.queue.send(delivery)  # gone: send() drops it from the schedule
            return
        if not self._take(owner):
            self.queue.defer(delivery, self.OWNER_BUSY_SECONDS)
            return
        try:
            self.queue.send(delivery)
        finally:
            self._release(owner)


def events_of(job_state: str) -> Iterable[str]:
    """The webhook event a job transition to `job_state` is."""
    if job_state == "running":
        return ("start",)
    if job_state in ("succeeded", "failed", "canceled"):
        return ("completed",)
    return ()


def validate_filter(events: Sequence[str]) -> tuple[str, ...]:
    return tuple(e for e in EVENTS if e in events)
