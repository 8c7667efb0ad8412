"""torch's CPU threads for a generation under TORCH_NUM_THREADS=auto: the cores the CPU pool's running jobs leave.

The GPU worker's LLM on a CPU shares the host's cores with the CPU worker's pool. A thread count fixed at the load
(the cores minus CPU_CONCURRENCY) left a 16-core host whose 15-process pool sat idle generating on one thread; every
core taken beside a busy pool made it crawl (SmolLM2 here: 8.23 tokens/s on 1 thread, 0.48 on 2 beside one busy job,
bench/llm_threads_bench.py). So the count follows the pool: at the start of each generation, and again at its
progress checkpoints at most once a second, torch's intra-op threads are set to the usable cores minus the CPU pool
jobs running on this host at that moment (jobs/host_pool.py: one ZCOUNT in Redis) or, where more, the cores other
programs keep busy (worker/llm/host_load.py, the GPU worker's `running`), at least 1. Between two forward
passes torch.set_num_threads is safe; the inter-op threads are never touched. At the end the count before the
generation is put back (Whisper or an embedder in the same process keep theirs). An explicit TORCH_NUM_THREADS and a
CUDA device are left as they were. Should Redis not answer, the count stays as it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from config import usable_cores

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 1.0  # at most one Redis read this often during a generation


def adapts(settings: Mapping[str, Any], device: str) -> bool:
    """Whether a model on `device` follows the CPU pool: TORCH_NUM_THREADS auto (the default) on the CPU."""
    return str(settings.get("TORCH_NUM_THREADS", "auto")).strip().lower() == "auto" and not device.startswith("cuda")


def threads_beside(running_jobs: int, cores: int | None = None) -> int:
    """The threads a generation takes beside `running_jobs` CPU pool jobs on this host: the rest of the cores, >= 1."""
    return max(1, (usable_cores() if cores is None else cores) - max(0, int(running_jobs)))


class PoolThreads:
    """Sets torch's threads for the generations of one loaded model (see the module's note).

    `running()` counts the CPU pool's jobs running on this host; `on_change(n)` hears a new count (the models'
    status is published again). `in_use` is the count set last (None before the first generation)."""

    def __init__(self, running: Callable[[], int], *, cores: int | None = None,
                 on_change: Callable[[int], None] | None = None, every_seconds: float = CHECK_EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.running, self.cores, self.on_change = running, cores, on_change
        self.every_seconds, self.clock = every_seconds, clock
        self.in_use: int | None = None
        self.reads = 0  # Redis reads made: one per generation and one a second at most (tests, the bench)
        self._checked = float("-inf")
        self._before: int | None = None

    def begin(self) -> int:
        """At a generation's start: the count for the pool as it is now. Returns the count in use."""
        import torch

        self._before = torch.get_num_threads()
        self.in_use = self._before if self.in_use is None else self.in_use
        self._update()
        return int(self.in_use)

    def checkpoint(self) -> int:
        """At a progress checkpoint: the count again, when the last read is a second old or more."""
        if self.clock() - self._checked >= self.every_seconds:
            self._update()
        return int(self.in_use or 0)

    def end(self) -> None:
        """After the generation: torch's count as it was before it."""
        import torch

        if self._before is not None and torch.get_num_threads() != self._before:
            torch.set_num_threads(self._before)
        self._before = None

    def _update(self) -> None:
        import torch

        self._checked = self.clock()
        try:
            self.reads += 1
            wanted = threads_beside(self.running(), self.cores)
        except Exception as e:  # Redis away: the count stays (the old fixed share at worst)
            log.info("could not count the CPU pool's jobs on this host (%s): torch keeps %s threads", e,
                     torch.get_num_threads())
            return
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)
        changed, self.in_use = wanted != self.in_use, wanted
        if changed and self.on_change is not None:
            self.on_change(wanted)


def follow_pool(llm: Any, settings: Mapping[str, Any], device: str, running: Callable[[], int] | None,
                publish: Callable[[], None]) -> None:
    """Let `llm`'s generations follow the CPU pool where TORCH_NUM_THREADS is auto on the CPU and the pool's jobs
    can be counted (`running`); a new count becomes the model's `cpu_threads` and the status is published again."""
    if running is None or not adapts(settings, device):
        return

    def changed(count: int) -> None:
        llm.cpu_threads = count
        publish()

    llm.threads = PoolThreads(running, on_change=changed)
