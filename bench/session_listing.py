"""Time of a page of GET /sessions by id against `order=modified`, for a user holding N sessions.

One user's N session folders (each one upload and three results of a few bytes) under a temporary DATA_DIR, a
private valkey; a fresh subprocess builds the app and answers GET /sessions?limit=L through Flask's test client (the
whole route: the listing, the page's summaries, `storage`), each order --repeat times alternately, warm page cache.
`order=modified` stats three folders of every session; `storage` (used_bytes) walks every file of every session in
both orders.

Usage: python bench/session_listing.py [--sessions 10000] [--limit 20] [--repeat 15]
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

CHILD = APP_CLIENT + """
times = {{"id": [], "modified": []}}
for _ in range({repeat}):
    for order in times:
        t = time.perf_counter()
        r = c.get(f"/sessions?limit={limit}&order={{order}}", headers=auth)
        times[order].append(time.perf_counter() - t)
        assert r.status_code == 200, r.data
print(json.dumps({{order: statistics.median(ts) for order, ts in times.items()}}))
"""


def fill(data: Path, sessions: int) -> None:
    root = data / "users" / "u" / "sessions"
    for i in range(sessions):
        folder = root / f"s{i:05d}"
        (folder / "uploads").mkdir(parents=True)
        (folder / "results").mkdir()
        (folder / "uploads" / "a.wav").write_bytes(b"x" * 100)
        for name in ("features_a.json", "features_a.png", "pitch_a.json"):
            (folder / "results" / name).write_bytes(b"x" * 100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    from redis_server import start_embedded

    with tempfile.TemporaryDirectory() as tmp:
        server = start_embedded(Path(tmp) / "valkey")
        try:
            url = f"redis://127.0.0.1:{server.port}/0"
            data = Path(tmp) / "data"
            fill(data, args.sessions)
            child = CHILD.format(root=str(ROOT), url=url, data=str(data), limit=args.limit, repeat=args.repeat)
            done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True, cwd=ROOT)
            m = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{args.sessions} sessions, GET /sessions?limit={args.limit}, median of {args.repeat}: "
                  f"by id {m['id'] * 1000:.1f} ms, order=modified {m['modified'] * 1000:.1f} ms "
                  f"(ratio {m['modified'] / m['id']:.2f})")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
