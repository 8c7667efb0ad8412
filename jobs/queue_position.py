"""How many waiting jobs a worker takes before a queued one: GET /jobs/<id> `jobs_ahead`.

A queued job had said "queued" and nothing more: behind the one GPU worker a user could not tell a wait of one job
from a wait of forty (`/health`'s `queue_depth` counts a queue's messages, not those ahead of one of them).

kombu's Redis transport keeps a list per priority level (jobs/fairness.py gives each job its turn as a level): it
pushes on the left and a worker pops on the right of the first list, in level order, that holds a message. The
messages ahead of a job are those of the earlier lists and those to its right in its own. One Lua script walks
them inside Redis, so the count is one consistent snapshot and no message crosses the network; it stops after
`SCAN_LIMIT` messages, so its cost is bounded whatever the backlog.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import redis

from . import keys
from .estimates import add_estimates, queued_eta

SCAN_LIMIT = 5000  # waiting messages looked at, at most, per call (a few ms of the Redis server's time)
CHUNK = 200  # messages read per LRANGE inside the script

# KEYS = the queue's lists in the order a worker takes from them; ARGV[1] = the scan limit, ARGV[2] = the job records'
# key prefix, ARGV[3..] = job ids. Returns a flat list of (job id, jobs ahead, the work ahead) for each id found among
# the waiting messages; the work ahead is JSON, {eta_kind: [jobs, their seconds of audio]} of the jobs counted ahead
# (jobs/estimates.py: their expected runs).
# A message is kombu's JSON envelope: its headers' "id" is the Celery task id, which is the job id
# (jobs/submit.py publish); `"id"` cannot match inside `"root_id"` or `"correlation_id"` (the quote before it), and
# the body is base64. Counted ahead: a message whose job is still queued, once (a canceled job's message waits
# until a worker takes it and drops it at once; a job published again by recovery may have two).
_AHEAD_LUA = """
local wanted, left = {}, #ARGV - 2
for i = 3, #ARGV do wanted[ARGV[i]] = true end
local limit, prefix, seen, ahead, counted, out, jobs, audio = tonumber(ARGV[1]), ARGV[2], 0, 0, {}, {}, {}, {}
for _, key in ipairs(KEYS) do
  local stop = -1
  while true do
    local chunk = redis.call('LRANGE', key, stop - CHUNK + 1, stop)
    for j = #chunk, 1, -1 do
      local id = string.match(chunk[j], '"id": ?"([^"]+)"')
      if id and wanted[id] then
        out[#out + 1] = id
        out[#out + 1] = ahead
        local work = {}
        for kind, n in pairs(jobs) do work[kind] = {n, audio[kind]} end
        out[#out + 1] = cjson.encode(work)
        wanted[id] = nil
        left = left - 1
        if left == 0 then return out end
      end
      if id and not counted[id] then
        local rec = redis.call('HMGET', prefix .. id, 'state', 'eta_kind', 'audio_seconds')
        if rec[1] == 'queued' then
          counted[id] = true
          ahead = ahead + 1
          local kind = rec[2] or ''
          jobs[kind] = (jobs[kind] or 0) + 1
          audio[kind] = (audio[kind] or 0) + (tonumber(rec[3]) or 0)
        end
      end
      seen = seen + 1
      if seen >= limit then return out end
    end
    if #chunk < CHUNK then break end
    stop = stop - CHUNK
  end
end
return out
""".replace("CHUNK", str(CHUNK))


class QueuePositions:
    """`jobs_ahead` of queued jobs, read from the broker's own lists."""

    def __init__(self, client: redis.Redis):
        self.r = client
        self._ahead = client.register_script(_AHEAD_LUA)

    def ahead(self, queue: str, job_ids: Iterable[str], *, limit: int = SCAN_LIMIT) -> dict[str, int]:
        """Messages a worker takes before each job's on `queue`. A job absent from the answer is not among the first
        `limit` waiting messages: a worker has taken it (it is about to start), its message is not sent yet, or
        more than `limit` wait before it."""
        return {job_id: n for job_id, (n, _) in self.ahead_work(queue, job_ids, limit=limit).items()}

    def ahead_work(self, queue: str, job_ids: Iterable[str], *, limit: int = SCAN_LIMIT
                   ) -> dict[str, tuple[int, dict[str, list[float]]]]:
        """As `ahead`, each with the work ahead of it: {eta_kind: [jobs, seconds of audio]}."""
        ids = sorted(set(job_ids))
        if not ids:
            return {}
        found = self._ahead(keys=keys.queue_lists(queue), args=[limit, keys.job(""), *ids])
        return {keys.text(found[i]): (int(found[i + 1]), _work(found[i + 2])) for i in range(0, len(found), 3)}

    def add_to(self, views: list[dict]) -> list[dict]:
        """Each queued view of `views` gets `jobs_ahead` (null when unknown), one script call per queue."""
        by_queue: dict[str, list[str]] = {}
        for view in views:
            if view["state"] == "queued" and view.get("queue"):
                by_queue.setdefault(view["queue"], []).append(view["job_id"])
        ahead: dict[str, tuple[int, dict[str, list[float]]]] = {}
        for queue, ids in by_queue.items():
            ahead.update(self.ahead_work(queue, ids))
        for view in views:
            if view["state"] == "queued":
                view["jobs_ahead"] = ahead[view["job_id"]][0] if view["job_id"] in ahead else None
        add_estimates(self.r, views, {job_id: work for job_id, (_, work) in ahead.items()})
        return views


def _work(raw: bytes | str) -> dict[str, list[float]]:
    found = json.loads(keys.text(raw))
    return found if isinstance(found, dict) else {}  # (cjson writes an empty table as {})


PLACE_SECONDS = 5.0  # a queued job's event stream looks at its place this often (api/events.py)
UNTOLD = -1  # a place not yet told on the stream (a reconnect replaying the log: no opening state)


class PlaceWatch:
    """A queued job's place, for its event stream: `news()` is its new `jobs_ahead` after a change, else UNTOLD. The
    stream says when the job starts, not when the jobs ahead of it do; this tells the rest."""

    def __init__(self, positions: QueuePositions, *, queue: str, job_id: str, stage: str = "queued",
                 told: int | None = UNTOLD):
        self.positions, self.queue, self.job_id = positions, queue, job_id
        self.stage = stage  # the queued job's own (a job queued again after its worker died says so)
        self.told = told
        self.eta: dict | None = None  # when it may start, as last read with its place (jobs/estimates.py)
        self.waiting = True  # until an event says the job has left the queue

    def heard(self, state: str | None) -> None:
        if state != "queued":
            self.waiting = False

    def read(self) -> int | None:
        """Its place now, as told, and when it may start (`eta`)."""
        view: dict[str, Any] = {"job_id": self.job_id, "state": "queued", "queue": self.queue, "eta": queued_eta()}
        self.positions.add_to([view])
        self.told, self.eta = view["jobs_ahead"], view["eta"]
        return self.told

    def news(self) -> int | None:
        if not self.waiting:
            return UNTOLD
        before = self.told
        now = self.read()
        return UNTOLD if now == before else now
