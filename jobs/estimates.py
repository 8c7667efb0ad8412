"""How long a job has left, and roughly when a queued one starts: the job views' `eta` (jobs/record.py public_view).

A stranger's trial: "no whole-job estimates". A running job said its share and stage, a queued one its place, and
nothing said how long: only a text generation had a time left (worker/llm/meter.py `generation.seconds_left`).

Two measured bases, nothing invented:
- `progress`: the job's own rate since its attempt started, elapsed x (1 - p) / p, once p is at least
  MIN_PROGRESS and the attempt has run MIN_SECONDS (earlier the rate means nothing). The elapsed time is taken when
  the view is read, so a job that slows down sees its estimate grow; a job that has reported nothing (its record's
  `progress_at`, written with each report) for longer than STUCK_SECONDS and than all its run up to its last report
  is stuck, and has none. A progress event carries the figure as it was at its report (event_eta).
- `history`: the durations of finished jobs of the same type and method (`eta_kind`), kept in Redis per kind (the
  last HISTORY_SIZE, expiring HISTORY_TTL_SECONDS after the last one) with the seconds of audio each read. A job's
  expected run is the median of its NEAREST nearest finished jobs by length (on a log scale) within HISTORY_SCALE
  of it, each scaled to its own length (a job without audio: the median of those without). A queued job's start is
  when its queue's workers are through with what runs now (each running job's time left) and with the jobs ahead of
  it (their expected runs, counted in the broker's lists by the walk that counts `jobs_ahead`), shared among the
  queue's workers (their pool processes: `concurrency` in their heartbeats) as evenly as they can take it.

- `generation`: while a text generation reads its prompt (its share does not move: ~60 s for 8 k tokens of SmolLM2 on
  a CPU, the eta had been null), the time the reading has left, from the layers of the model read so far (its
  `generation.prompt_seconds_left`), when the job has no progress basis; the answer's tokens come after it.

`basis` says which: `progress`, `generation`, `history`, or `queue` for a queued job's figures.
Every figure is an estimate, said "about"; null where there is no basis (no history of a kind ahead, a running job
past what its kind takes, no live worker on the queue), never negative, and none over MAX_SECONDS.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from . import keys
from .keys import text
from .method import job_method

MIN_PROGRESS = 0.05  # below this share the job's rate says little (a model loading, a file opening)
MIN_SECONDS = 2.0  # ... and before this many seconds of its run
STUCK_SECONDS = 60.0  # no report for this long (and for longer than its run before it): stuck, no estimate
MAX_SECONDS = 7 * 24 * 3600.0  # a figure past a week is no estimate: none
HISTORY_SIZE = 50  # finished jobs kept per kind
HISTORY_TTL_SECONDS = 30 * 24 * 3600  # a kind nothing ran of for this long forgets its history
NEAREST = 5  # finished jobs nearest in length that a job's expected run is the median of
# ... those within this factor of its length: a run scaled further says little, as each kind has a fixed cost (a pitch
# analysis ~0.25 s of a 1 s voice line, ~4 s of a 3-minute track) that scaling by length multiplies; after 54 voice
# lines a stranger's first 3-minute track would have been told ~40 s and each of a batch of them queued behind
HISTORY_SCALE = 4.0
BASIS_PROGRESS, BASIS_HISTORY, BASIS_QUEUE = "progress", "history", "queue"
BASIS_GENERATION = "generation"  # a text generation reading its prompt: the time the reading has left (prompt_left)


def kind_of(job: Mapping[str, Any]) -> str:
    """`type:method` (`demucs:repet`, `features:`): jobs whose durations are comparable."""
    return f"{job.get('type')}:{job_method(job) or ''}"


def _clamped(seconds: float | None) -> float | None:
    if seconds is None or not math.isfinite(seconds) or seconds < 0 or seconds > MAX_SECONDS:
        return None
    return round(seconds, 1)


def progress_left(progress: float, started_at: float | None, now: float, *,
                  progress_at: float | None = None) -> float | None:
    """Seconds left at the job's own rate since `started_at` (see the module's doc); None without a basis."""
    if started_at is None or not 0 < progress < 1:
        return None
    elapsed = now - started_at
    if progress < MIN_PROGRESS or elapsed < MIN_SECONDS:
        return None
    if progress_at is not None and now - progress_at > max(STUCK_SECONDS, progress_at - started_at):
        return None  # nothing reported for longer than all its run before: stuck
    return _clamped(elapsed * (1 - progress) / progress)


def running_eta(job: Mapping[str, Any], now: float | None = None) -> dict[str, Any]:
    """A running job's `eta` from its progress alone (no Redis read): {seconds_left, basis}."""
    progress_at = job.get("progress_at")
    left = progress_left(float(job.get("progress") or 0.0), job.get("started_at"), time.time() if now is None else now,
                         progress_at=float(progress_at) if progress_at else None)
    return {"seconds_left": left, "basis": BASIS_PROGRESS if left is not None else None}


def queued_eta() -> dict[str, Any]:
    return {"seconds_left": None, "starts_in": None, "basis": None}


class Durations:
    """The durations of finished jobs per kind, and the runs they let one expect."""

    def __init__(self, client: redis.Redis):
        self.r = client

    def note(self, job: Mapping[str, Any], seconds: float) -> None:
        """A job of `job`'s kind succeeded after running `seconds` (its last attempt)."""
        if not 0 < seconds < MAX_SECONDS:
            return
        key = keys.durations(str(job.get("eta_kind") or kind_of(job)))
        pipe = self.r.pipeline()
        pipe.lpush(key, json.dumps([_audio(job), round(seconds, 3)]))
        pipe.ltrim(key, 0, HISTORY_SIZE - 1)
        pipe.expire(key, HISTORY_TTL_SECONDS)
        pipe.execute()

    def samples(self, kinds: Iterable[str]) -> dict[str, list[tuple[float, float]]]:
        """(audio seconds, seconds) of each kind's finished jobs, one round trip."""
        wanted = sorted(set(kinds))
        if not wanted:
            return {}
        pipe = self.r.pipeline()
        for kind in wanted:
            pipe.lrange(keys.durations(kind), 0, HISTORY_SIZE - 1)
        out: dict[str, list[tuple[float, float]]] = {}
        for kind, raw in zip(wanted, pipe.execute(), strict=True):
            pairs = (json.loads(text(item)) for item in raw)
            out[kind] = [(float(a), float(s)) for a, s in pairs]
        return out


def expected(samples: list[tuple[float, float]], audio: float) -> float | None:
    """The run a job of `audio` seconds (0: none) may expect from its kind's finished jobs; None without any."""
    if audio > 0:
        near = sorted((abs(math.log(audio / a)), s * audio / a) for a, s in samples if a > 0)[:NEAREST]
        near = [(d, s) for d, s in near if d <= math.log(HISTORY_SCALE)]
    else:
        near = [(0.0, s) for a, s in samples if a <= 0][:NEAREST]
    return _clamped(statistics.median(s for _, s in near)) if near else None


def _audio(job: Mapping[str, Any]) -> float:
    try:
        return max(float(job.get("audio_seconds") or 0.0), 0.0)
    except (TypeError, ValueError):
        return 0.0


def start_in(slots: list[float], work: float) -> float:
    """When a worker is free for the next job: each of the queue's workers is busy for its `slots` seconds (0: free),
    then `work` seconds of jobs ahead are shared so that the earliest free take the most (filled as water)."""
    level, ordered = 0.0, sorted(slots)
    for i, busy in enumerate(ordered):
        after = ordered[i + 1] if i + 1 < len(ordered) else math.inf
        room = (after - busy) * (i + 1)  # the first i+1 workers filled up to the next one's level
        if work <= room:
            return busy + work / (i + 1)
        work -= room
        level = after
    return level


def history_left(expect: float | None, started_at: float | None, now: float) -> float | None:
    """A running job's time left from its kind's expected run: None without one, or once the job has run past it."""
    if expect is None or started_at is None:
        return None
    rest = expect - (now - started_at)
    return _clamped(rest) if rest > 0 else None


def prompt_left(generation: Mapping[str, Any] | None) -> float | None:
    """The time a text generation's prompt has left to be read (worker/llm/meter.py `prompt_seconds_left`, from the
    layers read so far), when nothing of the job comes after this generation but its answer; else None. An analysis'
    pass of several (`pass` < `passes`) has more passes after it: its prompt's time is not the job's."""
    if not isinstance(generation, Mapping) or generation.get("phase") != "prompt":
        return None
    if generation.get("pass", 1) != generation.get("passes", 1):
        return None
    left = generation.get("prompt_seconds_left")
    return _clamped(float(left)) if isinstance(left, (int, float)) else None


def event_eta(progress: float, started_at: float | None, expect: float | None,
              generation: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `eta` a progress report carries (jobs/reporting.py): its progress's, else, while a text generation reads
    its prompt (the job's share still for 60 s of an 8 k-token prompt), the prompt's time left (`generation`: the
    report's detail), else its kind's history's."""
    now = time.time()
    left = progress_left(progress, started_at, now)
    if left is not None:
        return {"seconds_left": left, "basis": BASIS_PROGRESS}
    left = prompt_left(generation)
    if left is not None:
        return {"seconds_left": left, "basis": BASIS_GENERATION}
    left = history_left(expect, started_at, now)
    return {"seconds_left": left, "basis": BASIS_HISTORY if left is not None else None}


def expected_run(client: redis.Redis, job: Mapping[str, Any]) -> float | None:
    """The run `job` may expect from the finished jobs of its kind."""
    kind = str(job.get("eta_kind") or "")
    return expected(Durations(client).samples([kind]).get(kind, []), _audio(job)) if kind else None


_FACTS = ("state", "queue", "started_at", "progress", "progress_at", "eta_kind", "audio_seconds")


def _read_facts(client: redis.Redis, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    pipe = client.pipeline()
    for job_id in job_ids:
        pipe.hmget(keys.job(job_id), *_FACTS)
    out = {}
    for job_id, values in zip(job_ids, pipe.execute(), strict=True):
        if values[0] is not None:
            facts: dict[str, Any] = {k: text(v) if v is not None else None for k, v in zip(_FACTS, values, strict=True)}
            for k in ("started_at", "progress", "progress_at"):
                facts[k] = float(facts[k]) if facts[k] else None
            out[job_id] = facts
    return out


def _concurrency(client: redis.Redis, queues: set[str]) -> dict[str, int]:
    """The pool processes of the live workers serving each queue (1 for a worker that does not say)."""
    names = [text(n) for n in client.smembers(keys.WORKERS)]
    pipe = client.pipeline()
    for name in names:
        pipe.hmget(keys.worker(name), "queues", "concurrency")
    out = dict.fromkeys(queues, 0)
    for served, concurrency in pipe.execute():
        if served is None:  # its heartbeat expired
            continue
        for queue in json.loads(text(served)):
            if queue in out:
                out[queue] += max(int(json.loads(text(concurrency))) if concurrency else 1, 1)
    return out


def add_estimates(client: redis.Redis, views: list[dict], work_ahead: Mapping[str, dict[str, list[float]]]) -> None:
    """Complete the `eta` of the queued and running views from history (public_view gave the progress basis):
    a running job without a progress basis gets its kind's expected run less what it has run; a queued one whose
    place is known gets `starts_in` (see the module's doc) and its `seconds_left` (that and its own expected run).
    `work_ahead`: the jobs ahead of each queued one (jobs/queue_position.py)."""
    need = [v for v in views if isinstance(v.get("eta"), dict) and (
        v["state"] == "queued" or (v["state"] == "running" and v["eta"].get("seconds_left") is None))]
    if not need:
        return
    now = time.time()
    facts = _read_facts(client, [v["job_id"] for v in need])
    queues = {str(v.get("queue")) for v in need if v["state"] == "queued" and v["job_id"] in work_ahead}
    running: dict[str, list[dict[str, Any]]] = {q: [] for q in queues}
    if queues:
        ids = sorted(text(i) for i in client.smembers(keys.RUNNING))
        for found in _read_facts(client, ids).values():
            if found["state"] == "running" and found["queue"] in running:
                running[str(found["queue"])].append(found)
    kinds = {f["eta_kind"] for f in facts.values()} | {k for w in work_ahead.values() for k in w} | {
        f["eta_kind"] for jobs in running.values() for f in jobs}
    samples = Durations(client).samples(k for k in kinds if k)
    workers = _concurrency(client, queues) if queues else {}

    def run_of(kind: str | None, audio: float) -> float | None:
        return expected(samples.get(kind, []), audio) if kind else None

    def left_of(job: dict[str, Any]) -> float | None:
        progress = progress_left(job["progress"] or 0.0, job["started_at"], now, progress_at=job["progress_at"])
        return progress if progress is not None else history_left(
            run_of(job["eta_kind"], _audio(job)), job["started_at"], now)

    for view in need:
        job = facts.get(view["job_id"])
        if job is None:
            continue
        own = run_of(job["eta_kind"], _audio(job))
        if view["state"] == "running":
            left = history_left(own, job["started_at"], now)
            view["eta"] = {"seconds_left": left, "basis": BASIS_HISTORY if left is not None else None}
            continue
        starts = _start_of(view, work_ahead, workers, [left_of(j) for j in running.get(str(view.get("queue")), [])],
                           run_of)
        total = _clamped(starts + own) if starts is not None and own is not None else None
        view["eta"] = {"seconds_left": total, "starts_in": starts, "basis": BASIS_QUEUE if starts is not None else None}


def _start_of(view: dict, work_ahead: Mapping[str, dict[str, list[float]]], workers: Mapping[str, int],
              lefts: list[float | None], run_of: Any) -> float | None:
    """When a queued job may start (see start_in); None where any part of it has no basis."""
    ahead, serving = work_ahead.get(view["job_id"]), workers.get(str(view.get("queue")), 0)
    if ahead is None or serving <= 0 or any(left is None for left in lefts):
        return None
    work = 0.0
    for kind, (count, audio) in ahead.items():
        each = run_of(kind, audio / count if audio > 0 else 0.0)
        if each is None:
            return None
        work += count * each
    busy = [float(left) for left in lefts if left is not None]
    return _clamped(start_in(busy + [0.0] * max(serving - len(busy), 0), work))
