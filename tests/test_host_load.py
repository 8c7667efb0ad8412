"""TORCH_NUM_THREADS=auto also leaves the cores other programs keep busy (worker/llm/host_load.py): counting the
CPU pool's jobs alone gave SmolLM2 both cores of a host whose pool was idle but whose other programs were not, and
it made 3.4-4.3 tokens/s there against 11.9-17.3 on one thread (bench/llm_pool_threads_bench.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from worker.llm.host_load import HostLoad, busy_elsewhere, cores_taken, cpu_busy_seconds
from worker.llm.threads import threads_beside

# /proc/stat's first line as Linux writes it: user nice system idle iowait irq softirq steal guest guest_nice (ticks)
STAT = "cpu  1000 50 250 9000 100 0 25 5 40 0\ncpu0 500 25 125 4500 50 0 12 2 20 0\n"


def test_the_busy_time_is_every_column_but_idle_and_iowait_and_this_process_is_not_counted():
    import os

    tick = os.sysconf("SC_CLK_TCK")
    assert cpu_busy_seconds(STAT) == (1000 + 50 + 250 + 25 + 5) / tick  # guest is within user: not added again
    assert busy_elsewhere(3.0, 1.0, 2.0) == 1.0  # 3 busy core-seconds in 2 s, 1 of them this process's: 1 core
    assert busy_elsewhere(1.0, 1.5, 1.0) == 0.0 and busy_elsewhere(1.0, 0.0, 0.0) == 0.0  # never below 0


def test_a_program_spinning_beside_the_generation_takes_a_core(tmp_path):
    """A real busy program: the reading counts it (where other test runs load the host, they are counted too), and
    the generation is left the rest of the cores, at least 1."""
    spinner = subprocess.Popen([sys.executable, "-c", "import sys\nsys.stdout.write('go\\n'); sys.stdout.flush()\n"
                                "while True: pass"], stdout=subprocess.PIPE, text=True)
    try:
        assert spinner.stdout is not None and spinner.stdout.readline() == "go\n"  # spinning from here on
        load = HostLoad()
        assert load.available()
        assert load.busy() >= 0.5  # one core spun, at least most of the first look's 0.1 s
        taken = cores_taken(lambda: 0, load)
        assert taken() >= 1 and threads_beside(taken(), 2) == 1
    finally:
        spinner.kill()
        spinner.wait()
    # a pool that runs more jobs than other programs keep cores busy: its count stands
    assert cores_taken(lambda: 7, HostLoad())() == 7
    # where /proc/stat is missing (not Linux), the pool's count alone
    pool = lambda: 2  # noqa: E731
    assert cores_taken(pool, HostLoad(stat=Path(tmp_path / "no-proc-stat"))) is pool
