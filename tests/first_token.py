"""A time limit for a test's SmolLM2 job taken from that job's own first token, on this machine, now.

The time-limit tests (tests/test_time_limit_partial.py and those importing from it) stop a real SmolLM2 job by
LONGEST_JOB_SECONDS and check the text it kept: the limit must fall after the job's first token (stopped while its
prompt is read, a job keeps nothing) and before its answer's end (which runs hundreds of tokens). A fixed limit
(6 s for an analysis, whose first token came after 2.1 s idle) fell before the first token on a host loaded to 10
by other test runs. So each test first runs the very same job on a budget of a few tokens, with no limit: the same
preparation, grounding and prompt read, then its first tokens. Its run, from its record's `started_at` to
`finished_at` (the worker's clock, as the limit's: not the HTTP round trips around it), is an upper bound of the
limited job's time to its first token; the limit is FACTOR times it plus MARGIN, and never below the test's own
floor (the constant it had). Both runs share the host's load of the moment, and a full answer takes tens of times
its first tokens' run, under any load alike, so the limit still falls well inside the answer.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

FACTOR, MARGIN = 2.0, 1.0  # the limit past the short run's seconds: its load may rise meanwhile


def run_seconds(job: dict) -> float:
    """A finished job's run, by its record: finished_at - started_at (ISO times to the millisecond)."""
    return (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()


def _finish_reason(result: dict) -> Any:
    """The generation's finish_reason; a batch's: its last file's."""
    return result["results"][-1]["finish_reason"] if result.get("batch") else result["finish_reason"]


def first_tokens_seconds(client, path: str, body: dict[str, Any], budget: dict[str, int]) -> float:
    """The run of the job `body` asks `path` for, on `budget` (the route's token field at its least) and without a
    time limit: it must end cut by that budget (finish_reason length: its full answer runs on). The files it wrote
    in its session are deleted, so that the session holds the limited job's alone (and the result cache, which
    checks an entry's files, misses the next such run)."""
    r = client.post(path, json={**body, **budget})
    assert r.status_code in (200, 202), r.text
    job = client.wait_job(r.json()["job_id"], timeout=300)
    # (not answered from the result cache, jobs/cache.py: its run would measure nothing)
    assert job["state"] == "succeeded" and _finish_reason(job["result"]) == "length", job
    assert not job["result"].get("cached"), job
    for name in job.get("files") or []:
        gone = client.delete(f"/sessions/{job['session_id']}/files/{name}", params={"area": "results"})
        assert gone.status_code == 200, gone.text
    return run_seconds(job)


def limit_after_first_token(client, path: str, body: dict[str, Any], budget: dict[str, int], floor: float) -> float:
    """LONGEST_JOB_SECONDS for the job `body` asks `path` for: past its first token on this machine now
    (first_tokens_seconds, FACTOR and MARGIN), `floor` at least; whole seconds, so its error's message reads
    plainly."""
    seconds = first_tokens_seconds(client, path, body, budget)
    print(f"first tokens of {path}: {seconds:.2f} s")  # shown with the test's output when it fails
    return float(max(floor, math.ceil(FACTOR * seconds + MARGIN)))
