"""The webhook deliveries in Redis: queued (any process), claimed and sent one attempt at a time (the sender
threads, jobs/webhook_sender.py), retried with backoff, one job's in order, and listed per job. The rest of
webhooks: jobs/webhooks.py."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import redis

from . import keys, metrics
from .keys import text
from .record import TERMINAL_STATES
from .webhook_post import post

log = logging.getLogger(__name__)

LEASE_SECONDS = 60  # a claimed delivery is retried by another worker if its sender died mid-attempt
BACKOFF_BASE_SECONDS = 1.0  # attempt n waits base x 2^(n-1), at most BACKOFF_MAX_SECONDS
BACKOFF_MAX_SECONDS = 600.0
HISTORY_TTL_SECONDS = 7 * 24 * 3600
ORDER_GAP_SECONDS = 0.5  # a delivery waiting behind its job's earlier one is due this long after it

# KEYS[1] = due zset; ARGV[1] = now, ARGV[2] = lease end. Takes the earliest due delivery and pushes its
# due time to the lease end, so no other worker takes it until then. Returns its id, or false.
_CLAIM_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then return false end
redis.call('ZADD', KEYS[1], ARGV[2], due[1])
return due[1]
"""

# KEYS[1] = due zset, KEYS[2] = wake list; ARGV[1] = a delivery put off behind its job's earlier delivery, ARGV[2] =
# the due time that set, ARGV[3] = now. Makes it due now and wakes a sender, if it is still as it was put off (not
# claimed since, whose lease a wake would cut short, nor ended). Returns 1 if woken, else 0. (The owner's turns wake
# theirs the same way: jobs/webhook_owner_limit.py.)
_WAKE_LUA = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('LPUSH', KEYS[2], 1)
redis.call('LTRIM', KEYS[2], 0, 63)
return 1
"""

# KEYS[1] = due zset, KEYS[2] = the earlier delivery's record, KEYS[3] = the claimed delivery's; ARGV[1] = the claimed
# delivery, ARGV[2] = its due time behind the earlier one, ARGV[3] = now. Puts it off to ARGV[2], recording that time
# for the earlier one's end to wake it by (`_release_next`), if the earlier one is still pending; else (it ended since
# it was looked at, and its end may have looked for this one to wake before this was recorded) makes it due now.
# Returns 1 if put off.
_WAIT_LUA = """
if redis.call('HGET', KEYS[2], 'state') == 'pending' then
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])
  if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HSET', KEYS[3], 'waiting_until', ARGV[2]) end
  return 1
end
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
return 0
"""


class WebhookQueue:
    """Deliveries in Redis: enqueue (any process), claim and send (worker threads), history per job."""

    def __init__(self, client: redis.Redis, settings: Mapping[str, Any]):
        self.r = client
        self.settings = settings
        self._claim = self.r.register_script(_CLAIM_LUA)
        self._wake = self.r.register_script(_WAKE_LUA)
        self._wait = self.r.register_script(_WAIT_LUA)

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

    def wake(self, delivery_id: str, put_off_until: float) -> bool:
        """A delivery put off until `put_off_until` is due now, and a sender is woken for it (the job's earlier
        delivery has ended); False if it was claimed or ended since (a wake would cut a sending worker's lease
        short)."""
        return bool(self._wake(keys=[keys.WEBHOOKS_DUE, keys.WEBHOOKS_WAKE],
                               args=[delivery_id, put_off_until, time.time()]))

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
            metrics.WEBHOOK_DELIVERIES.inc(self.r, "superseded")
            self._release_next(rec["job_id"], delivery_id)
            return "superseded"
        earlier = self._earlier_open(rec["job_id"], delivery_id)
        if earlier is not None:
            # one job's events reach the receiver in the order they happened: a start whose first attempt
            # failed had been retried after job.completed, and a stranger's receiver showed the finished job
            # as running. Due again when the earlier one is (it makes this one due at once when it ends).
            due = float(self.r.zscore(keys.WEBHOOKS_DUE, earlier) or 0)
            now = time.time()
            self._wait(keys=[keys.WEBHOOKS_DUE, keys.webhook(earlier), keys.webhook(delivery_id)],
                       args=[delivery_id, max(due, now) + ORDER_GAP_SECONDS, now])
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
        metrics.WEBHOOK_DELIVERIES.inc(self.r, state)
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
        """`delivery_id` has ended: the job's next delivery still scheduled, if it waits behind it, is due now (the
        very next may have ended already: a progress event dropped while the start was being retried, and the
        completion behind it had waited out the start's 60 s lease). Only if it is still as its waiting set it: one
        claimed since has its lease end as its due time, and making it due now (a ZADD LT had) let a second sender
        claim it while the first was sending it."""
        _, later = self._around(job_id, delivery_id)
        pipe = self.r.pipeline()
        for i in later:
            pipe.zscore(keys.WEBHOOKS_DUE, i)
            pipe.hget(keys.webhook(i), "waiting_until")
        found = pipe.execute() if later else []
        following = next(((i, until) for i, due, until in zip(later, found[::2], found[1::2], strict=True)
                          if due is not None), None)
        if following is not None and following[1] is not None:  # never put off behind an earlier one: due already
            self.wake(following[0], float(following[1]))

    def _job_ended(self, job_id: str) -> bool:
        state = self.r.hget(keys.job(job_id), "state")
        return state is not None and text(state) in TERMINAL_STATES

    def _post(self, rec: Mapping[str, str]) -> tuple[int | None, str | None]:
        return post(rec, self.settings)
