"""supervisord as run.py starts it (service/supervisord_main.py) goes on with a stop as soon as it can.

supervisord stops one priority group at a time and waits up to 1 s at a time for something to read; Python resumes
a wait that a signal interrupts (PEP 475), so a signal (its own SIGTERM, a program's SIGCHLD) was acted on only when
the wait ended, and each group with nothing left to stop (the workers run.py had already stopped at once, a program
that had exited) could cost such a wait as well. run.py's stop with every program idle took 4.2-5.8 s here, 2.4-3.0 s
after (the API and events servers' own stops are most of the rest). A real supervisord and real programs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from service.control import Supervisor
from service.layout import RunLayout
from service.programs import Program
from tests.conftest import wait_for
from tests.supervised import start_supervisord

ROOT = Path(__file__).resolve().parent.parent
STEPS = 8  # programs of each kind, each its own priority group
# a bound, not a wait: the stop ends when the last program has; 0.06 s here, 2.1 s before (1.1-1.4 s with either of
# the two changes alone: the unheard signal and the stopped groups)
BOUND_SECONDS = 1.0
EX_DONE = 78  # a final exit status (no restart): the program's group is stopped before the stop begins


def test_a_stop_moves_on_when_each_program_ends_and_passes_over_the_ones_already_stopped(tmp_path):
    # ended by TERM at once
    quiet = [Program(f"quiet{i}", ["sleep", "600"], priority=100 + i,
                     startsecs=0) for i in range(STEPS)]
    # ended before the stop, for good: their groups come first in the stop's order (highest priority first)
    done = [Program(f"done{i}", ["sh", "-c", f"exit {EX_DONE}"], priority=200 + i, startsecs=0,
                    final_exit_codes=(EX_DONE,)) for i in range(STEPS)]
    layout = RunLayout.for_data_dir(tmp_path / "data")
    proc = start_supervisord(layout, quiet + done, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sup = Supervisor(layout)
    try:
        def settled() -> bool:
            try:
                states = {name: info["statename"] for name, info in sup.programs().items()}
            except OSError:  # not answering yet
                return False
            return (all(states.get(p.name) == "RUNNING" for p in quiet)
                    and all(states.get(p.name) == "EXITED" for p in done))

        wait_for(settled, timeout=60, interval=0.2, message="the quiet programs running, the others exited")
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        took = time.monotonic() - began
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0
    assert took < BOUND_SECONDS, f"the stop took {took:.1f} s for {STEPS} quiet programs and {STEPS} stopped ones"
    log = (layout.logs / "supervisord.log").read_text()
    stopped = [line.split("stopped: ", 1)[1].split()[0] for line in log.splitlines() if "stopped: " in line]
    # still in priority order, highest first, each program once
    assert [n for n in stopped if n.startswith("quiet")] == [f"quiet{i}" for i in reversed(range(STEPS))], stopped


def test_a_supervisor_without_the_replaced_internals_still_starts():
    """requirements.txt admits any supervisor from 4.2: one whose poller or stop step is named otherwise keeps its own
    waits (a slower stop) rather than fail run.py's supervisord at import (it had read both at import)."""
    code = ("import sys\n"
            "from supervisor import poller, supervisord\n"
            "class Other:\n    pass\n"
            "poller.Poller = Other  # a poller class of another shape\n"
            "del supervisord.Supervisor.ordered_stop_groups_phase_1\n"
            "import service.supervisord_main as m\n"
            "m.install(); m.act_at_once()\n"
            "assert m._wake == [] and not hasattr(Other, 'poll'), m._wake\n"
            "assert not hasattr(supervisord.Supervisor, 'ordered_stop_groups_phase_1')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
