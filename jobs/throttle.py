"""Failed logins counted per client address and per username in Redis, over a fixed window.

When either count has reached the limit, further attempts from that address, or for that name from any
address, are refused (429) without checking the password until the window that began with the first
failure has passed. Counting every name, known or not, keeps the answer from telling names apart.
"""

from __future__ import annotations

import hashlib
import math

import redis

from . import keys


class LoginThrottle:
    def __init__(self, client: redis.Redis, *, limit: int, window_seconds: float):
        self.r = client
        self.limit = int(limit)
        self.window_ms = max(1, int(float(window_seconds) * 1000))

    def _keys(self, address: str, username: str) -> list[str]:
        digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
        return [keys.login_failures_by_address(address), keys.login_failures_by_user(digest)]

    def retry_after(self, *, address: str, username: str) -> int:
        """Whole seconds until `username` may try again from `address`; 0 when it may now."""
        if self.limit <= 0:
            return 0
        names = self._keys(address, username)
        pipe = self.r.pipeline()
        for name in names:
            pipe.get(name)
            pipe.pttl(name)
        replies = pipe.execute()
        waits = [ttl for count, ttl in zip(replies[::2], replies[1::2], strict=True)
                 if count is not None and int(count) >= self.limit and ttl > 0]
        return math.ceil(max(waits) / 1000) if waits else 0

    def failed(self, *, address: str, username: str) -> None:
        """Count one failure; the window of a counter starts with its first failure."""
        if self.limit <= 0:
            return
        pipe = self.r.pipeline()
        for name in self._keys(address, username):
            pipe.set(name, 0, px=self.window_ms, nx=True)
            pipe.incr(name)  # keeps the expiry the SET gave it
        pipe.execute()
