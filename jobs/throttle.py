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
"""

from __future__ import annotations

import hashlib
import math

import redis

from . import keys

KNOWN_SECONDS = 30 * 24 * 3600  # how long a successful login makes its address a known one for that name


class LoginThrottle:
    def __init__(self, client: redis.Redis, *, limit: int, window_seconds: float):
        self.r = client
        self.limit = int(limit)
        self.window_ms = max(1, int(float(window_seconds) * 1000))

    def _keys(self, address: str, username: str) -> list[str]:
        """The counts: the address's, the name's, and the name's from this address."""
        digest = _digest(username)
        return [keys.login_failures_by_address(address), keys.login_failures_by_user(digest),
                keys.login_failures_by_pair(digest, address)]

    def retry_after(self, *, address: str, username: str) -> int:
        """Whole seconds until `username` may try again from `address`; 0 when it may now."""
        if self.limit <= 0:
            return 0
        names = self._keys(address, username)
        pipe = self.r.pipeline()
        for name in names:
            pipe.get(name)
            pipe.pttl(name)
        pipe.exists(keys.login_known(_digest(username), address))
        *replies, known = pipe.execute()
        # a known pair: its own count only; else the address's and the name's (the pair's is within both)
        replies = replies[4:6] if known else replies[:4]
        waits = [ttl for count, ttl in zip(replies[::2], replies[1::2], strict=True)
                 if count is not None and int(count) >= self.limit and ttl > 0]
        return math.ceil(max(waits) / 1000) if waits else 0

    def succeeded(self, *, address: str, username: str) -> None:
        """`username` logged in from `address`: from there, that name's failure count no longer holds it back."""
        if self.limit > 0:
            self.r.set(keys.login_known(_digest(username), address), 1, ex=KNOWN_SECONDS)

    def failed(self, *, address: str, username: str) -> None:
        """Count one failure; the window of a counter starts with its first failure."""
        if self.limit <= 0:
            return
        pipe = self.r.pipeline()
        for name in self._keys(address, username):
            pipe.set(name, 0, px=self.window_ms, nx=True)
            pipe.incr(name)  # keeps the expiry the SET gave it
        pipe.execute()


def _digest(username: str) -> str:
    """Names are keyed by a digest: a username is whatever a client sent, of any length."""
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
