"""How soon one owner's next webhook delivery follows the one before it (WEBHOOK_SENDS_PER_OWNER 1): two jobs of
one user end together, a second sender thread puts the other delivery off while the first is sent, and the time
from each one's answer to the next one's arrival is measured (tests/test_webhook_owner_turns.py's scenario). With
--senders 2, two senders with Redis clients of their own (as two worker processes) share the work: a negative gap is a
delivery that arrived before the one before it was answered (the owner's limit not held across them).

    python bench/webhook_owner_turns.py [--runs 9] [--threads 3] [--jobs 2] [--senders 1]

An embedded valkey of its own in a throwaway folder; a real HTTP receiver on 127.0.0.1. Prints each gap, the median
and the most deliveries of the owner the receiver had in at once, and in how many runs that was more than one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis_server import start_embedded  # noqa: E402
from tests.test_webhook_owner_turns import one_owners_jobs_ending_together  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="of the one owner, ending together")
    parser.add_argument("--senders", type=int, default=1, help="senders of --threads threads each (worker processes)")
    args = parser.parse_args()
    settings = {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "WEBHOOK_SECRET": "bench-webhook-secret"}
    with tempfile.TemporaryDirectory(prefix="ma-bench-webhooks-") as tmp:
        server = start_embedded(Path(tmp))
        try:
            gaps, most, overlapped = [], 0, 0
            for _ in range(args.runs):
                run_gaps, at_once = one_owners_jobs_ending_together(
                    f"redis://127.0.0.1:{server.port}/0", settings, jobs=args.jobs, threads=args.threads,
                    senders=args.senders)
                gaps.extend(run_gaps)
                most = max(most, at_once)
                overlapped += at_once > 1
        finally:
            server.stop()
    print("gaps (ms):", " ".join(f"{g * 1000:.0f}" for g in gaps))
    print(f"median {statistics.median(gaps) * 1000:.0f} ms, min {min(gaps) * 1000:.0f} ms, max {max(gaps) * 1000:.0f} "
          f"ms over {args.runs} runs of {args.jobs} jobs, {args.senders} x {args.threads} sender threads; most of the "
          f"owner's deliveries in at once: {most} (in {overlapped} of the runs more than one)")


if __name__ == "__main__":
    main()
