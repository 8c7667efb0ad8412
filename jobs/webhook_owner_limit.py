"""How many of one owner's webhook deliveries are sent at once (WEBHOOK_SENDS_PER_OWNER), over every worker process on
the Redis: a stranger's three receivers that each took the 10-second timeout held the one sender thread there was, and
another user's webhook waited 7-11 s behind them. A delivery claimed while its owner's turns are all taken is put off,
and the end of a turn wakes the first of the owner's put off, whichever process put it off: it had waited out its timer
(1 s), and two jobs of one user that ended together had their second webhook arrive a second after the first.

The turns had been counted in each process, so N worker processes sent one owner's deliveries N at a time, and a turn's
end woke only what its own process had put off. Now they are in Redis, taken and given back by Lua scripts (each one
atomic: a turn ending while another process puts a delivery off either sees it put off or is seen by it), each with a
lease: a process killed mid-delivery never gives its turn back, and the owner's next deliveries go once the lease ends.
No in-process shortcut: knowing this process holds the owner's turns would still leave the putting off to record in
Redis, so it would save nothing. The sender threads: jobs/webhook_sender.py."""

from __future__ import annotations

import time
import uuid

import redis

from . import keys, webhook_post

# How long a turn is held at most: three times the 10 s bound of one attempt (DELIVERY_TIMEOUT_SECONDS, which a timer
# enforces), leaving the attempt's few Redis calls their timeouts too, so a live sender's turn never lapses mid-send (a
# second of the owner's deliveries would then go at once). A process killed mid-delivery holds its owner's turn this
# long, half the 60 s its delivery stays leased (jobs/webhook_queue.py), so the owner's other deliveries go first.
TURN_LEASE_SECONDS = 3 * webhook_post.DELIVERY_TIMEOUT_SECONDS

# KEYS[1] = the owner's turns (zset: token -> lease end, Redis's clock in ms), KEYS[2] = the owner's put off (zset:
# delivery -> the due time its putting off set), KEYS[3] = the due zset. ARGV[1] = a token of this turn, ARGV[2] =
# turns per owner, ARGV[3] = lease ms, ARGV[4] = the claimed delivery, ARGV[5] = its due time if put off, ARGV[6] =
# how long a put off entry is kept (ms). A turn, 1; or, all taken, the delivery due at ARGV[5] and recorded as put
# off, 0. Redis's clock for the leases: the senders run on several machines, whose clocks differ.
_TAKE_LUA = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[1])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
  redis.call('ZREM', KEYS[2], ARGV[4])
  return 1
end
if redis.call('ZSCORE', KEYS[3], ARGV[4]) then
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
return 0
"""

# KEYS as _TAKE_LUA's, KEYS[4] = the wake list. ARGV[1] = the turn's token, ARGV[2] = turns per owner, ARGV[3] = now.
# Gives the turn back and, a turn being free, wakes the first delivery of the owner's put off that is still as it was
# put off (due at the time its putting off set: one claimed since is leased, and a wake would cut the lease short; one
# ended is gone). Entries whose due time has passed are dropped: those are due, or claimed again, already. 1 if one
# was woken.
_RELEASE_LUA = """
redis.call('ZREM', KEYS[1], ARGV[1])
local now = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
local waiting = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #waiting, 2 do
  redis.call('ZREM', KEYS[2], waiting[i])
  local due = redis.call('ZSCORE', KEYS[3], waiting[i])
  if due and tonumber(due) == tonumber(waiting[i + 1]) then
    redis.call('ZADD', KEYS[3], ARGV[3], waiting[i])
    redis.call('LPUSH', KEYS[4], 1)
    redis.call('LTRIM', KEYS[4], 0, 63)
    return 1
  end
end
return 0
"""


class OwnerLimit:
    """Turns of each owner's, at most `per_owner` at a time over every process on the Redis, each held at most
    `lease_seconds`; and the deliveries put off for their owner's turn, woken one per turn that ends."""

    def __init__(self, client: redis.Redis, per_owner: int = 1, *, lease_seconds: float = TURN_LEASE_SECONDS):
        self.r = client
        self.per_owner = max(1, per_owner)
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self._take = client.register_script(_TAKE_LUA)
        self._release = client.register_script(_RELEASE_LUA)

    def take(self, owner: str, delivery: str, *, put_off_seconds: float) -> str | None:
        """A turn of `owner`'s for the claimed `delivery`: its token, for `release`. Or, all of theirs being taken,
        None: the delivery is due again in `put_off_seconds` (no attempt counted) and a turn's end wakes it sooner."""
        token = f"{delivery}/{uuid.uuid4().hex}"  # the delivery's own id may be claimed again once its lease is over
        put_off_until = time.time() + put_off_seconds
        taken = self._take(keys=[keys.webhook_owner_turns(owner), keys.webhook_owner_put_off(owner), keys.WEBHOOKS_DUE],
                           args=[token, self.per_owner, self.lease_ms, delivery, put_off_until,
                                 int(put_off_seconds * 1000) + 1000])
        return token if taken else None

    def release(self, owner: str, token: str) -> bool:
        """The end of the turn `take` gave: True if it woke a delivery of the owner's put off."""
        return bool(self._release(keys=[keys.webhook_owner_turns(owner), keys.webhook_owner_put_off(owner),
                                        keys.WEBHOOKS_DUE, keys.WEBHOOKS_WAKE],
                                  args=[token, self.per_owner, time.time()]))
