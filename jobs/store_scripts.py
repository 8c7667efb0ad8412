"""The job store's Lua scripts: each change of a job record, its event and its event log in one atomic step."""

from __future__ import annotations

from .record import TERMINAL_STATES

# Entries an unfinished job's event log keeps (trimmed approximately, which is cheap): the reporter writes
# at most 20 progress events a second, so a client reconnecting within about a minute misses nothing.
EVENT_LOG_MAX_ENTRIES = 1000

# KEYS[1] = job hash, KEYS[2] = its events channel, KEYS[3] = the set of running job ids, KEYS[4] = its event
# log (a stream); A (TRANSITION_LUA's ARGV) [1] = allowed from-states (comma list), A[2] = new state, A[3..] =
# field/value pairs to set. Returns the previous state, or false. The change, the running set and the event are one
# atomic step: subscribers see transitions in order, and a worker dying right after it started a job still
# leaves the job where recovery looks (two calls once left a gap in which a kill made the job an orphan for
# ever). The event log gets the same event with an id (GET /jobs/<id>/events resumes from it); a final
# state trims it to that one entry, since a client reconnecting after the end needs only the final record,
# and it lives as long as the job record.
_MOVE = """
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return false end
local ok = false
for s in string.gmatch(A[1], '[^,]+') do if s == cur then ok = true end end
if not ok then return false end
redis.call('HSET', KEYS[1], 'state', A[2])
for i = 3, #A, 2 do redis.call('HSET', KEYS[1], A[i], A[i + 1]) end
local id = redis.call('HGET', KEYS[1], 'job_id')
if A[2] == 'running' then redis.call('SADD', KEYS[3], id) else redis.call('SREM', KEYS[3], id) end
local now = redis.call('HMGET', KEYS[1], 'progress', 'stage', 'attempts')
local event = cjson.encode({state = A[2], progress = tonumber(now[1]) or 0, stage = now[2],
                            attempts = tonumber(now[3]) or 0})
redis.call('PUBLISH', KEYS[2], event)
local final_states = FINAL_STATES
local final = final_states[A[2]] == true
if final then redis.call('HDEL', KEYS[1], 'partial', 'kept') end  -- a batch so far: its end's result says it all
redis.call('XADD', KEYS[4], 'MAXLEN', final and '=' or '~', final and '1' or 'MAX_ENTRIES', '*',
           'kind', 'state', 'data', event)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[4], ttl) end
return cur
""".replace("FINAL_STATES", "{" + ", ".join(f"{s} = true" for s in sorted(TERMINAL_STATES)) + "}").replace(
    "MAX_ENTRIES", str(EVENT_LOG_MAX_ENTRIES))
TRANSITION_LUA = "local A = ARGV\n" + _MOVE

# A job's start (JobStore.start): the transition above, only on the record the start read. KEYS as above; ARGV[1..3] =
# the state, worker ('' for none) and attempts it read, ARGV[4..] = the transition's ARGV (the new `attempts` among its
# fields). Two deliveries of one message, taken by two workers (or two pool children of one) in the same milliseconds,
# had both passed the start's checks, both counted an attempt and both moved the job to running: it ran twice. Now
# the second finds the record changed and writes nothing (false).
START_LUA = """
local seen = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempts')
if seen[1] ~= ARGV[1] or (seen[2] or '') ~= ARGV[2] or (tonumber(seen[3]) or 0) ~= tonumber(ARGV[3]) then
  return false
end
local A = {unpack(ARGV, 4)}
""" + _MOVE

# KEYS: job, its events channel, its event log; ARGV: progress, stage, event JSON, log length, log TTL seconds
# and, for a batch that has finished a file, what it has finished so far (JSON; the record's `partial`, '' for
# none), then a text generation's detail (JSON; the record's `generation`, '' clears it), then the time of the report
# (the record's `progress_at`: a job that reports nothing for long is stuck, jobs/estimates.py).
# Only a running job's record is written: a progress report never makes a record (see JobStore.progress).
PROGRESS_LUA = """
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[1], 'stage', ARGV[2])
if ARGV[8] then redis.call('HSET', KEYS[1], 'progress_at', ARGV[8]) end
if ARGV[6] and ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'partial', ARGV[6]) end
if ARGV[7] and ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'generation', ARGV[7])
else redis.call('HDEL', KEYS[1], 'generation') end
redis.call('PUBLISH', KEYS[2], ARGV[3])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'kind', 'progress', 'data', ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[5])
return 1
"""

# KEYS: job; ARGV: the worker (identity) that is being stopped. Notes the running attempt as handed back by a
# graceful stop of its worker (SIGTERM: an operator's restart), once per attempt: should the stop end the job's
# run (killed after the stop's grace), the attempt is not counted against JOB_MAX_ATTEMPTS. 1 when noted.
HAND_BACK_LUA = """
local now = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempts', 'handed_back_attempt')
if now[1] ~= 'running' or now[2] ~= ARGV[1] or now[3] == now[4] then return 0 end
redis.call('HSET', KEYS[1], 'handed_back_attempt', now[3])
redis.call('HINCRBY', KEYS[1], 'handed_back', 1)
return 1
"""

# KEYS: job; ARGV: who asked for a cancel. Noted on a queued or running job only (no record made of a gone one),
# and only the first asker, as the cancel flag's time is the first ask's. 1 when noted.
CANCELER_LUA = """
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' and state ~= 'running' then return 0 end
return redis.call('HSETNX', KEYS[1], 'canceled_by', ARGV[1])
"""
