"""run.py's supervisord leaves a worker that exits 78 (EX_CONFIG: its settings cannot work here, e.g. a DATA_DIR that
is not the service's) down, and its guard says why on run.py's output; any other exit is restarted as before.

It had been restarted in a loop (autorestart=true), each start taking a job of the other data directory and handing
it back, and run.py said nothing. Real supervisord, from supervisor_conf.render, with the real guard; the programs are
small shell commands that end as a worker does.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from datetime import datetime

import pytest

from config import EX_CONFIG
from service import startup
from service.control import Supervisor
from service.layout import RunLayout
from service.programs import Program
from tests.supervised import start_supervisord

WHY = "CRITICAL job j1: this worker does not share the service's data directory; it stops, exit status 78"
RUN_SECONDS = 2  # each program's life: past its startsecs (1 s), so its end is an exit, not a failed start
TIMEOUT_SECONDS = 90


SUPERVISORD_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")  # its own lines, not the guard's
TICK_LATE_SECONDS = 2  # supervisord ticks after its poll (up to 1 s) and the guard's start-again note follows


def stamp_of(line: str) -> float | None:
    """The time of one of supervisord's log lines (local time: a whole number of minutes off UTC, which leaves
    multiples of 5 s where they are)."""
    found = SUPERVISORD_STAMP.match(line)
    return None if found is None else datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def next_tick_5(after: float) -> float:
    """When supervisord sends its first TICK_5 after `after`: its wall clock crosses the next multiple of 5 s."""
    return (int(after) // 5 + 1) * 5


def worker_like(name: str, script: str, *, startsecs: int = 1) -> Program:
    return Program(name, ["sh", "-c", script], priority=10, startsecs=startsecs, final_exit_codes=(EX_CONFIG,))


@pytest.mark.slow
def test_a_worker_that_exits_78_stays_down_and_the_guard_says_why(tmp_path):
    programs = [
        worker_like("late78", f"sleep {RUN_SECONDS}; echo \"{WHY}\"; exit {EX_CONFIG}"),
        # within its startsecs: supervisord's failed start (BACKOFF, restarted whatever the status); the guard stops it
        worker_like("early78", f"echo \"worker not started: X='abc' is not a number (exit status {EX_CONFIG})\"; "
                               f"exit {EX_CONFIG}", startsecs=5),
        worker_like("crash1", f"sleep {RUN_SECONDS}; exit 1"),  # Celery's "Unrecoverable error" after a Redis outage
        worker_like("clean0", f"sleep {RUN_SECONDS}; exit 0"),  # a stop nobody asked for
    ]
    layout = RunLayout.for_data_dir(tmp_path / "data")
    proc = start_supervisord(layout, programs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert "autorestart=unexpected\nexitcodes=78\n" in layout.supervisor_conf.read_text()
    timer = threading.Timer(TIMEOUT_SECONDS, proc.kill)  # a test that hangs ends; the asserts then say what lacked
    timer.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # what run.py prints: supervisord's lines and the guard's notes
            lines.append(line)
            output = "".join(lines)
            # crash1 restarted twice: time enough for a restart of late78 (at once after its exit) to show
            if ("late78 stopped with exit status 78" in output and "early78 stopped with exit status 78" in output
                    and output.count("spawned: 'crash1'") >= 3 and output.count("spawned: 'clean0'") >= 2):
                break
        output = "".join(lines)
        notes = [line for line in lines if "stopped with exit status 78" in line]
        assert len(notes) == 2 and all("NOT restarted" in note for note in notes), output
        assert WHY in next(note for note in notes if "late78" in note), output  # the line of its log that tells
        assert "X='abc' is not a number" in next(note for note in notes if "early78" in note), output
        assert output.count("spawned: 'late78'") == 1, output
        # stopped in its first retries (the guard may hear of the first only once it is up itself), never given up
        # on and retried every 30 s as a program that could not start
        assert "gave up: early78" not in output, output
        states = {name: info["statename"] for name, info in Supervisor(layout).programs().items()}
        assert (states["late78"], states["early78"]) == ("EXITED", "STOPPED"), (states, output)
        # before run.py's banner, such a worker ends the run with the end of its log (not "still starting")
        outcome = startup.wait_until_up(layout, proc, lambda: False, lambda: True)
        assert (outcome.up, outcome.failed, outcome.for_good) == (False, "early78", True)
        assert "exit status 78, EX_CONFIG" in startup.failure_note(layout, "early78", for_good=True)
    finally:
        timer.cancel()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: supervisord, the guard and the programs
            proc.communicate(timeout=30)


@pytest.mark.slow
def test_a_worker_given_up_on_for_exiting_78_is_not_retried_every_30_s(tmp_path, monkeypatch):
    """No retries at all (SUPERVISE_START_RETRIES=0): supervisord gives up on it at its first failed start (FATAL);
    the guard, which starts a FATAL program again at the first TICK_5 GUARD_FATAL_RETRY_SECONDS after (0 here: the
    first TICK_5 after), leaves this one and says why once. supervisord's TICK_5 comes when its wall clock passes a
    multiple of 5 s (timeslice), up to its 1 s poll late: the test reads on until supervisord's own line stamps are
    2 s past the first such boundary after the FATAL (it had counted 4 restarts of crash1 after the note, ~10 s)."""
    monkeypatch.setenv("SUPERVISE_START_RETRIES", "0")
    programs = [worker_like("fatal78", f"echo \"not started (exit status {EX_CONFIG})\"; exit {EX_CONFIG}",
                            startsecs=5),
                worker_like("crash1", f"sleep {RUN_SECONDS}; exit 1")]  # a clock: supervisord's lines each ~1 s
    layout = RunLayout.for_data_dir(tmp_path / "data")
    proc = start_supervisord(layout, programs, env={**os.environ, "GUARD_FATAL_RETRY_SECONDS": "0"},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timer = threading.Timer(TIMEOUT_SECONDS, proc.kill)
    timer.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            output = "".join(lines)
            fatal = next((stamp_of(seen) for seen in lines if "gave up: fatal78" in seen), None)
            stamp = stamp_of(line)
            # a TICK_5 after the FATAL (when the guard would have started it again) and its handling are past
            if ("fatal78 stopped with exit status 78" in output and fatal is not None and stamp is not None
                    and stamp >= next_tick_5(fatal) + TICK_LATE_SECONDS):
                break
        output = "".join(lines)
        assert "gave up: fatal78" in output and output.count("fatal78 stopped with exit status 78") == 1, output
        assert "starting it again" not in output and output.count("spawned: 'fatal78'") == 1, output
    finally:
        timer.cancel()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate(timeout=30)
