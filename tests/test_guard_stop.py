"""The guard while supervisord stops everything (run.py's stop, Ctrl-C): quiet.

During a stop supervisord answers every XML-RPC call with Fault 6 SHUTDOWN_STATE. A 5-second tick sent to the guard
just before a stop began and handled after it (the guard reads the programs' states) had printed "error handling
TICK_5: <Fault 6: 'SHUTDOWN_STATE'>" on run.py's output: an error line in a clean stop. The race is too narrow to
meet on purpose, so the guard's handling of a tick is run here against a real supervisord that is stopping."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import xmlrpc.client

import pytest

from service import guard
from service.control import Supervisor
from service.layout import RunLayout
from service.programs import Program
from tests.conftest import wait_for
from tests.supervised import runs, start_supervisord

STOP_SECONDS = 20  # supervisord stays stopping this long (the program ignores its stop signal), or until killed


@pytest.mark.slow
def test_a_tick_handled_while_supervisord_stops_prints_nothing(tmp_path, monkeypatch, capsys):
    slow = Program("slow-to-stop", ["sh", "-c", "trap '' TERM; exec sleep 600"], priority=10, startsecs=1,
                   stopwaitsecs=STOP_SECONDS)
    layout = RunLayout.for_data_dir(tmp_path / "data")
    proc = start_supervisord(layout, [slow], stdout=subprocess.DEVNULL)
    sup = Supervisor(layout)

    def stopping() -> bool:
        try:
            sup.programs()
        except xmlrpc.client.Fault as e:
            return e.faultCode == 6  # SHUTDOWN_STATE
        return False

    try:
        wait_for(lambda: runs(sup, "slow-to-stop"), timeout=30, message="supervisord to run its program")
        program = sup.pid("slow-to-stop")
        proc.send_signal(signal.SIGTERM)  # run.py's stop
        wait_for(stopping, timeout=10, message="supervisord to begin its stop")
        # the guard's own environment under supervisord names its socket
        monkeypatch.setenv("SUPERVISOR_SERVER_URL", f"unix://{layout.supervisor_socket}")
        capsys.readouterr()
        guard.respond("TICK_5", "", {}, -1, -1)  # no session: nothing to sweep
        assert capsys.readouterr().err == ""
        # a tick that read the states before the stop began: its retry of a FATAL program is refused, unsaid
        with pytest.raises(xmlrpc.client.Fault):
            guard.retry_fatal({"slow-to-stop": time.monotonic() - 3600})
        assert capsys.readouterr().err == ""
        os.kill(program, signal.SIGKILL)  # the stop ends
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
