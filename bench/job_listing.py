"""Peak memory and time of a page of GET /jobs whose jobs carry big results (pitch jobs' melody).

A private valkey holds N succeeded pitch jobs of one user, each with the result run_pitch gives a track of
--minutes minutes (its melody contour is ~1.4 KB per second of audio). Each measurement is a fresh
subprocess that builds the app of a checkout and answers GET /jobs?limit=L through Flask's test client
(the whole route: reading Redis, the public view, the JSON), printing the jobs on the first page, the
answer's bytes, its peak RSS and wall time; then the pages it takes to list every job.

Usage: python bench/job_listing.py [--jobs 300] [--minutes 4] [--limit 1000] [--code DIR]
  --code DIR: another checkout (e.g. the main branch) measured beside this one, same data, same session.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.app_child import APP_CLIENT  # noqa: E402

F0_FRAMES_PER_SECOND = 172  # run_pitch's melody contour: a 5.8 ms hop

CHILD = APP_CLIENT + """
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
r = c.get("/jobs?limit={limit}", headers=auth)
seconds = time.perf_counter() - t
page = r.get_json()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
pages, cursor = 1, page["next_cursor"]
while cursor:
    cursor = c.get("/jobs?limit={limit}&cursor=" + cursor, headers=auth).get_json()["next_cursor"]
    pages += 1
print(json.dumps({{"jobs": len(page["jobs"]), "bytes": len(r.data), "rss_mb": rss, "rss_before_mb": base,
                  "seconds": seconds, "pages": pages}}))
"""


def fill(url: str, jobs: int, minutes: float) -> int:
    """`jobs` succeeded pitch jobs of user u with a result of a `minutes`-minute track; its bytes as JSON."""
    import redis

    from jobs.store import JobStore

    store = JobStore(redis.Redis.from_url(url))
    frames = int(minutes * 60 * F0_FRAMES_PER_SECOND)
    result = {"key": {"label": "C major"}, "tempo_bpm": 120.0,
              "melody": {"notes": [], "f0": {"hop_seconds": 0.005805, "hz": [261.63] * frames,
                                             "voiced": [True] * frames}}}
    for _ in range(jobs):
        job = store.create(owner="u", job_type="pitch", session_id="s", queue="cpu", task="music_analyzer.pitch")
        store.published(job["job_id"])
        store.succeed_at_once(job["job_id"], result, files=[])
    return len(json.dumps(result))


def measure(code: Path, url: str, data: Path, limit: int) -> dict:
    child = CHILD.format(root=str(code), url=url, data=str(data), limit=limit)
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True, cwd=code)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=300)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--code", type=Path, default=None, help="a baseline checkout")
    args = ap.parse_args()
    from redis_server import start_embedded

    with tempfile.TemporaryDirectory() as tmp:
        server = start_embedded(Path(tmp) / "valkey")
        try:
            url = f"redis://127.0.0.1:{server.port}/0"
            size = fill(url, args.jobs, args.minutes)
            print(f"{args.jobs} pitch jobs, each result {size / 1e6:.2f} MB ({args.minutes:g}-minute track); "
                  f"GET /jobs?limit={args.limit}")
            rows = [("this checkout", measure(ROOT, url, Path(tmp), args.limit))]
            if args.code:
                rows.append((f"baseline {args.code}", measure(args.code.resolve(), url, Path(tmp), args.limit)))
            for name, m in rows:
                print(f"  {name:34s} first page {m['jobs']:4d} jobs, {m['bytes'] / 1e6:7.1f} MB, "
                      f"{m['seconds']:6.2f} s, peak RSS {m['rss_mb']:7.0f} MB "
                      f"({m['rss_mb'] - m['rss_before_mb']:+.0f} MB for the page); {m['pages']} pages in all")
            if len(rows) == 2:
                ours, base = rows[0][1], rows[1][1]
                growth = (ours["rss_mb"] - ours["rss_before_mb"]) / max(base["rss_mb"] - base["rss_before_mb"], 1)
                print(f"  ratio (this / baseline): page peak RSS growth {growth:.3f}, "
                      f"time {ours['seconds'] / base['seconds']:.3f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
