"""How well a kind's history predicts its jobs' runs (jobs/estimates.py `expected`): a server's finished jobs replayed.

Each succeeded job of the type, in the order they finished, is predicted from the runs before it (the last
HISTORY_SIZE, as the worker keeps them) and compared with its real run (started_at to finished_at); printed: how
many got an estimate, how many within 0.5-3 times the real run (what tests/test_job_eta.py asks of a live run), the
median |log(estimate / run)|; then the same with the jobs replayed shortest audio first, and longest first (a batch
of long tracks after many short clips: the case HISTORY_SCALE is for), and the longer half queued at once after the
shorter half finished; then all with the bound lifted (the rule before it).

2026-12-06, a stranger's trial (38 supertuxkart tracks of 14-198 s, then 54 MegaGlest voice lines of 0.3-3 s, pitch
jobs on this 2-core machine), without the bound / with it: as run 86 of 91 / 89 of 90 estimates within 0.5-3x;
longest first 84 of 91 / 86 of 90; the longer 46 queued at once after the shorter 46: all estimated, summing 656 s
for 80.6 s of runs / 8 estimated (the others none), 3.0 s for their 3.0 s.

Usage: python bench/eta_history.py --url http://127.0.0.1:8000 --user alice --password ... [--type pitch]
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import statistics
import sys
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs import estimates  # noqa: E402


def finished_runs(url: str, user: str, password: str, job_type: str) -> list[tuple[float, float, float]]:
    """(finished at, seconds of audio, seconds of run) of the user's succeeded jobs of `job_type`."""
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    jobs, cursor = [], None
    while True:
        page = f"{url}/jobs?type={job_type}&state=succeeded&limit=100" + (f"&cursor={cursor}" if cursor else "")
        with urllib.request.urlopen(urllib.request.Request(page, headers={"Authorization": auth})) as answer:
            body = json.load(answer)
        jobs += body["jobs"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    runs = []
    for job in jobs:
        result = job.get("result") or {}
        audio = result.get("duration_seconds") or result.get("duration")
        if audio and job.get("started_at") and job.get("finished_at"):
            start, end = (datetime.fromisoformat(job[k]).timestamp() for k in ("started_at", "finished_at"))
            runs.append((end, float(audio), end - start))
    return sorted(runs)


def replay(runs: list[tuple[float, float, float]]) -> str:
    history: list[tuple[float, float]] = []
    ratios = []
    for _, audio, run in runs:
        guess = estimates.expected(history[: estimates.HISTORY_SIZE], audio)
        if guess is not None:
            ratios.append(max(guess, 0.05) / max(run, 0.05))
        history.insert(0, (audio, run))
    within = sum(0.5 <= r <= 3.0 for r in ratios)
    spread = statistics.median(abs(math.log(r)) for r in ratios) if ratios else float("nan")
    return f"{len(runs)} jobs, {len(ratios)} estimated, {within} within 0.5-3x, median |log ratio| {spread:.3f}"


def queued_at_once(runs: list[tuple[float, float, float]]) -> str:
    """The shorter half of the jobs finished, then the longer half queued at once: each predicted from the shorter
    half's history (a queued batch's `starts_in` sums such figures); the sum against the real runs' sum."""
    by_length = sorted(runs, key=lambda r: r[1])
    short, long = by_length[: len(runs) // 2], by_length[len(runs) // 2 :]
    history = [(audio, run) for _, audio, run in reversed(short)][: estimates.HISTORY_SIZE]
    guesses = [estimates.expected(history, audio) for _, audio, _ in long]
    told = [g for g in guesses if g is not None]
    real = sum(run for (_, _, run), g in zip(long, guesses, strict=True) if g is not None)
    return (f"{len(long)} longer jobs queued after {len(short)} shorter: {len(told)} estimated, their sum "
            f"{sum(told):.1f} s against {real:.1f} s "
            f"(all {len(long)}: {sum(run for _, _, run in long):.1f} s)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--type", default="pitch")
    args = ap.parse_args(argv)
    runs = finished_runs(args.url.rstrip("/"), args.user, args.password, args.type)
    scale = estimates.HISTORY_SCALE
    for bound in (scale, math.inf):
        estimates.HISTORY_SCALE = bound
        print(f"HISTORY_SCALE {bound}:")
        print("  as run:          ", replay(runs))
        print("  shortest first:  ", replay(sorted(runs, key=lambda r: r[1])))
        print("  longest first:   ", replay(sorted(runs, key=lambda r: -r[1])))
        print("  ", queued_at_once(runs))


if __name__ == "__main__":
    main()
