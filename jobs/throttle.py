"""Failed logins counted per client address and per username in Redis, over a fixed window.

When either count has reached the limit, further attempts from that address, or for that name from any
address, are refused (429) without checking the password until the window that began with the first
failure has passed. Counting every name, known or not, keeps the answer from telling names apart.

Except from where the user has logged in before: a name from an address it logged in from (within
KNOWN_SECONDS) is held back only by that name's failures from that address, not by the name's count nor by the
address's. Ten wrong passwords for alice from anywhere had locked her out of every process that had not yet seen
her credentials, again after each restart (a security trial: anyone could keep an admin out by repeating them
every window); and a stranger's wrong passwords for another name from the studio's one NAT address had locked
alice out from there. Guessing alice's password from that address still meets her own count there.

A password attempt is taken before its hash is checked (`claim`: the check of the counts and the count of the
attempt are one Lua script, so one atomic step for every API process and thread on the Redis) and given back
once the password was right (`passed`). Checking first and counting after the hash (tens of ms) had let
guesses sent together all pass the check: a stranger's 20 simultaneous wrong passwords to two API processes,
with a limit of 3, were all checked (20 answers 401, no 429).

While Redis does not answer, the counts are kept in this process's memory (LocalCounts), with the same limit and
window, and each attempt says so in the log: guessing stays bounded (per API process, not for the whole service)
and no one is locked out because Redis is away. The routes that need Redis answer 503 meanwhile, as ever.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from . import keys

log = logging.getLogger(__name__)
KNOWN_SECONDS = 30 * 24 * 3600  # how long a successful login makes its address a known one for that name
LOCAL_KEYS_MOST = 100_000  # counts kept in memory while Redis is away (the oldest go first past this)
T = TypeVar("T")

# KEYS: the address's count, the name's, the pair's, the pair's known marker. ARGV: limit, window (ms).
# Returns the ms until the attempt may be made (nothing counted), or 0 with the attempt counted in all three.
_CLAIM_LUA = """
local limit = tonumber(ARGV[1])
local holding = {1, 2}
if redis.call('EXISTS', KEYS[4]) == 1 then holding = {3} end
local wait = 0
for _, i in ipairs(holding) do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= limit then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl == -1 then
      redis.call('PEXPIRE', KEYS[i], ARGV[2])
      ttl = tonumber(ARGV[2])
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i = 1, 3 do
  redis.call('SET', KEYS[i], 0, 'PX', ARGV[2], 'NX')
  redis.call('INCR', KEYS[i])
  if redis.call('PTTL', KEYS[i]) == -1 then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 0
"""
# KEYS: as above. ARGV: seconds the pair stays known. A claimed attempt that passed is no failure.
_PASSED_LUA = """
for i = 1, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
redis.call('SET', KEYS[4], 1, 'EX', ARGV[1])
return 0
"""


class LoginThrottle:
    def __init__(self, client: redis.Redis, *, limit: int, window_seconds: float):
        self.r = client
        self.limit = int(limit)
        self.window_ms = max(1, int(float(window_seconds) * 1000))
        self.local = LocalCounts(self.limit, self.window_ms)
        self._claim = client.register_script(_CLAIM_LUA)
        self._passed = client.register_script(_PASSED_LUA)

    def _keys(self, address: str, username: str) -> list[str]:
        """The counts: the address's, the name's, and the name's from this address; then the pair's known marker."""
        digest = _digest(username)
        return [keys.login_failures_by_address(address), keys.login_failures_by_user(digest),
                keys.login_failures_by_pair(digest, address), keys.login_known(digest, address)]

    def _redis_or_local(self, step: Callable[[], T], local: Callable[[], T]) -> T:
        try:
            return step()
        except (redis.RedisError, OSError) as e:
            log.warning("login throttle: Redis unreachable (%s): counting in this API process only", e)
            return local()

    def claim(self, *, address: str, username: str) -> int:
        """Take one attempt for `username` from `address`: whole seconds to wait when the counts refuse it (nothing
        counted), else 0 with the attempt counted as a failure until `passed` gives it back."""
        if self.limit <= 0:
            return 0
        names = self._keys(address, username)
        waited = self._redis_or_local(lambda: int(self._claim(keys=names, args=[self.limit, self.window_ms])),
                                      lambda: self.local.claim(names))
        return math.ceil(waited / 1000)

    def passed(self, *, address: str, username: str) -> None:
        """The claimed attempt was right: not a failure, and from `address` that name's failure count no longer holds
        it back (a known pair)."""
        if self.limit > 0:
            names = self._keys(address, username)
            self._redis_or_local(lambda: self._passed(keys=names, args=[KNOWN_SECONDS]),
                                 lambda: self.local.passed(names))

    def retry_after(self, *, address: str, username: str) -> int:
        """Whole seconds until `username` may try again from `address`; 0 when it may now (nothing counted: for API
        tokens, whose 256 bits need no atomic count; passwords are `claim`ed)."""
        if self.limit <= 0:
            return 0
        names = self._keys(address, username)

        def read() -> int:
            pipe = self.r.pipeline()
            for name in names[:3]:
                pipe.get(name)
                pipe.pttl(name)
            pipe.exists(names[3])
            *replies, known = pipe.execute()
            # a known pair: its own count only; else the address's and the name's (the pair's is within both)
            replies = replies[4:6] if known else replies[:4]
            waits = [ttl for count, ttl in zip(replies[::2], replies[1::2], strict=True)
                     if count is not None and int(count) >= self.limit and ttl > 0]
            return max(waits, default=0)

        return math.ceil(self._redis_or_local(read, lambda: self.local.wait(names)) / 1000)

    def succeeded(self, *, address: str, username: str) -> None:
        """`username` logged in from `address` (a token that passed): from there, that name's failure count no
        longer holds it back."""
        if self.limit > 0:
            names = self._keys(address, username)
            self._redis_or_local(lambda: self.r.set(names[3], 1, ex=KNOWN_SECONDS),
                                 lambda: self.local.mark_known(names[3]))

    def failed(self, *, address: str, username: str) -> None:
        """Count one failure that was not claimed (a token's); the window of a counter starts with its first."""
        if self.limit <= 0:
            return
        names = self._keys(address, username)

        def count() -> None:
            pipe = self.r.pipeline()
            for name in names[:3]:
                pipe.set(name, 0, px=self.window_ms, nx=True)
                pipe.incr(name)  # keeps the expiry the SET gave it
            pipe.execute()

        self._redis_or_local(count, lambda: self.local.count(names))


class LocalCounts:
    """The same counts in this process's memory, for while Redis does not answer (one lock; bounded)."""

    def __init__(self, limit: int, window_ms: int):
        self.limit = limit
        self.window = window_ms / 1000
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}  # key -> monotonic time it ends (counts and known markers alike)
        self._counts: dict[str, int] = {}

    def _live(self, key: str, now: float) -> bool:
        if self._until.get(key, 0.0) > now:
            return True
        self._until.pop(key, None)
        self._counts.pop(key, None)
        return False

    def _wait_ms(self, names: list[str], now: float) -> int:
        holding = names[2:3] if self._live(names[3], now) else names[:2]
        waits = [self._until[k] - now for k in holding if self._live(k, now) and self._counts.get(k, 0) >= self.limit]
        return math.ceil(max(waits) * 1000) if waits else 0

    def _count(self, names: list[str], now: float) -> None:
        for key in names[:3]:
            if not self._live(key, now):
                self._until[key] = now + self.window
            self._counts[key] = self._counts.get(key, 0) + 1
        if len(self._until) > LOCAL_KEYS_MOST:  # the oldest first: dicts keep their order of insertion
            for key in list(self._until)[:len(self._until) - LOCAL_KEYS_MOST]:
                self._until.pop(key)
                self._counts.pop(key, None)

    def wait(self, names: list[str]) -> int:
        with self._lock:
            return self._wait_ms(names, time.monotonic())

    def claim(self, names: list[str]) -> int:
        with self._lock:
            now = time.monotonic()
            wait = self._wait_ms(names, now)
            if not wait:
                self._count(names, now)
            return wait

    def count(self, names: list[str]) -> None:
        with self._lock:
            self._count(names, time.monotonic())

    def passed(self, names: list[str]) -> None:
        with self._lock:
            now = time.monotonic()
            for key in names[:3]:
                if self._live(key, now) and self._counts.get(key, 0) > 0:
                    self._counts[key] -= 1
        self.mark_known(names[3])

    def mark_known(self, key: str) -> None:
        with self._lock:
            self._until.pop(key, None)  # to the end of the order: the newest
            self._until[key] = time.monotonic() + KNOWN_SECONDS


def _digest(username: str) -> str:
    """Names are keyed by a digest: a username is whatever a client sent, of any length."""
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
