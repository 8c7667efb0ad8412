"""Idempotency-Key: the same key from the same user within a day names the same job.

A client that did not hear the answer to a job-creating request (a timeout, a dropped connection) sends it
again with the same `Idempotency-Key` header and gets the job the first request made, not a second one.
The key is remembered per caller (per owner an admin acts for) with a fingerprint of the request (method,
path, body): the same key with another request is refused (422), and a second request arriving while the first
is still being handled is refused (409) rather than racing it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import redis

from worker.errors import ConflictError, InvalidRequestError

from . import keys
from .keys import text

MAX_KEY_CHARS = 255
PENDING = "pending"
# A request holds its key this long while it makes the job (milliseconds, a cached copy of large stems some
# seconds); `remember` then keeps the key for the day. An API process killed in between leaves a claim that
# must not block the key for the day (a stranger's batch could not finish that file until the next): it lapses.
PENDING_SECONDS = 30


class KeyReusedError(InvalidRequestError):
    """The key came with another request: a client bug, not something a retry fixes."""

    code = "idempotency_key_reused"
    http_status = 422


@dataclass(frozen=True)
class Claim:
    """The outcome of presenting a key: a new request (go ahead, then `remember`) or a known job."""

    redis_key: str
    fingerprint: str
    job_id: str | None  # the job the key already names; None = this request is the first
    request: str = ""  # "METHOD /path" of the request that presented the key, kept beside it for a later 422


# body keys about the answer, not the job: a retry asking for a shorter `wait` is the same request (a stranger's
# `"wait": 0` then `"wait": 1` with one key got 422 idempotency_key_reused, where Prefer: wait got the job back)
ANSWER_KEYS = frozenset({"wait"})


def fingerprint(method: str, path: str, body: Any) -> str:
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ANSWER_KEYS}
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def reused(first: str, job_id: str | None, asked: str) -> KeyReusedError:
    """The 422 of a key that came with another request, naming that request (method and path) and the job it made:
    a client told only "another request" had to guess which of its requests had taken the key. The key is the
    caller's own (keys.idempotency), so the request named is the caller's own. `first` is empty for a key kept
    before requests were (an older version's): the message is then the one it always was."""
    message = "this Idempotency-Key was used with another request"
    if not first:
        return KeyReusedError(message)
    method, _, path = first.partition(" ")
    what = f"{first} with another body" if first == asked else first
    made = f", which made job {job_id}" if job_id else ", still being handled (no job yet)"
    return KeyReusedError(f"{message}: {what}{made}; send a new key with a new request",
                          details={"first_request": {"method": method, "path": path, "job_id": job_id}})


class IdempotencyKeys:
    def __init__(self, client: redis.Redis, *, ttl_seconds: int):
        self.r = client
        self.ttl = int(ttl_seconds)

    def claim(self, *, owner: str, key: str, request_fingerprint: str, caller: str | None = None,
              method: str = "", path: str = "") -> Claim:
        """Claim `key` for a new request, or find the job it already names. 409 while the first request
        with the key is still being handled, 422 when the key came with another request. `caller`: who sent it,
        where not the owner (an admin's `?owner=`): keys are the caller's, as a client's retries are its own (an
        admin's question to alice's library with alice's key had got alice's job, worded for her). `method` and
        `path`: this request's, kept beside the key so that the 422 of a later request names them."""
        if not key or len(key) > MAX_KEY_CHARS:
            raise InvalidRequestError(f"Idempotency-Key must be 1-{MAX_KEY_CHARS} characters",
                                      code="invalid_idempotency_key")
        if "," in key:  # two Idempotency-Key headers reach the app joined by a comma (WSGI): they had been one key
            raise InvalidRequestError("send one Idempotency-Key header, without a comma (several headers arrive "
                                      "joined by commas, as one value)", code="invalid_idempotency_key")
        name = keys.idempotency(owner, hashlib.sha256(key.encode()).hexdigest(), caller=caller)
        asked = f"{method.upper()} {path}" if method and path else ""
        pending = min(self.ttl, PENDING_SECONDS)
        if self.r.set(name, f"{PENDING}:{request_fingerprint}", nx=True, ex=pending):
            if asked:
                self.r.set(keys.idempotency_request(name), asked, ex=pending)
            return Claim(name, request_fingerprint, None, asked)
        pipe = self.r.pipeline()
        pipe.get(name)
        pipe.ttl(name)
        pipe.get(keys.idempotency_request(name))
        raw, ttl, first = pipe.execute()
        state, _, rest = text(raw or b"").partition(":")
        known_fingerprint, _, job_id = rest.partition(":")
        if known_fingerprint != request_fingerprint:
            raise reused(text(first or b""), job_id or None, asked)
        if state == PENDING or not job_id:
            busy = ConflictError("a request with this Idempotency-Key is still being handled; retry shortly",
                                 code="idempotency_key_in_use")
            busy.headers = {"Retry-After": str(max(1, int(ttl or 1)))}  # at the latest, the claim has lapsed
            raise busy
        return Claim(name, request_fingerprint, job_id, asked)

    def remember(self, claim: Claim, job_id: str) -> None:
        pipe = self.r.pipeline()
        pipe.set(claim.redis_key, f"done:{claim.fingerprint}:{job_id}", ex=self.ttl)
        if claim.request:
            pipe.set(keys.idempotency_request(claim.redis_key), claim.request, ex=self.ttl)
        pipe.execute()

    def release(self, claim: Claim) -> None:
        """The first request failed before it made a job: the key is free for a retry."""
        self.r.delete(claim.redis_key, keys.idempotency_request(claim.redis_key))
