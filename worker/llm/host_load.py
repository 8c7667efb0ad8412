"""Cores other programs keep busy on this host, for TORCH_NUM_THREADS=auto's count (worker/llm/threads.py).

Counting the CPU pool's running jobs alone (jobs/host_pool.py) gave a generation every core of a host whose pool
was idle but whose other programs were not: on this 2-core machine, beside other test runs (load 3.4-5.7), SmolLM2
made 3.4-4.3 tokens/s on 2 threads against 11.9-17.3 on 1 (bench/llm_pool_threads_bench.py): torch's threads
wait for each other at every layer, so one that loses its core stalls every token. So the cores taken are also
read off the kernel: the busy time of all cores in /proc/stat less this process's own CPU time, between two
readings (the checkpoints a second apart; at a generation's start, FIRST_LOOK_SECONDS apart when the last reading
is older than STALE_SECONDS). Where /proc/stat is missing (not Linux), nothing is read and the pool's count stands.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

PROC_STAT = Path("/proc/stat")
FIRST_LOOK_SECONDS = 0.1  # a generation's first reading: its two samples this far apart (10 clock ticks at 100 Hz)
STALE_SECONDS = 5.0  # a reading older than this says nothing of now: a fresh one is taken


def cpu_busy_seconds(stat_text: str) -> float:
    """Busy CPU seconds of all cores since boot, from /proc/stat's first line (every column but idle and iowait;
    guest time is within user time, so it is not added again)."""
    fields = [int(v) for v in stat_text.split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def busy_elsewhere(busy_seconds: float, own_seconds: float, wall_seconds: float) -> float:
    """Cores kept busy by other programs over `wall_seconds`: the host's busy time less this process's own."""
    if wall_seconds <= 0:
        return 0.0
    return max(0.0, (busy_seconds - own_seconds) / wall_seconds)


class HostLoad:
    """Reads the cores other programs keep busy: `busy()` since the last call (see the module's note)."""

    def __init__(self, stat: Path = PROC_STAT, clock: Callable[[], float] = time.monotonic):
        self.stat, self.clock = stat, clock
        self._last: tuple[float, float, float] | None = None
        self._value = 0.0  # the last reading's, given again to a call closer than FIRST_LOOK_SECONDS to it

    def available(self) -> bool:
        return self.stat.is_file()

    def _sample(self) -> tuple[float, float, float]:
        return cpu_busy_seconds(self.stat.read_text()), time.process_time(), self.clock()

    def busy(self) -> float:
        """Cores other programs kept busy since the last reading (a fresh one FIRST_LOOK_SECONDS long when there is
        none or it is stale; the last one's figure again within FIRST_LOOK_SECONDS of it: a few clock ticks say
        nothing)."""
        if self._last is None or self.clock() - self._last[2] > STALE_SECONDS:
            self._last = self._sample()
            time.sleep(FIRST_LOOK_SECONDS)  # (in the worker, not a test: the two samples of a first reading)
        elif self.clock() - self._last[2] < FIRST_LOOK_SECONDS:
            return self._value
        busy0, own0, at0 = self._last
        self._last = now = self._sample()
        self._value = busy_elsewhere(now[0] - busy0, now[1] - own0, now[2] - at0)
        return self._value


def cores_taken(pool_jobs: Callable[[], int], load: HostLoad | None = None) -> Callable[[], int]:
    """What a generation leaves to others: the CPU pool's running jobs on this host, or the cores other programs
    keep busy where that is more (the pool's busy jobs are among them), rounded to whole cores."""
    reader = load if load is not None else HostLoad()
    if not reader.available():
        return pool_jobs

    def taken() -> int:
        return max(int(pool_jobs()), int(round(reader.busy())))

    return taken
