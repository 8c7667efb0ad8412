"""A real supervisord for the tests of the guard and of supervision (tests/test_supervision*.py, test_guard_stop.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from service import supervisor_conf, supervisord_main
from service.control import Supervisor
from service.layout import RunLayout
from service.programs import Program

ROOT = Path(__file__).resolve().parent.parent


def start_supervisord(layout: RunLayout, programs: list[Program], **popen: Any) -> subprocess.Popen:
    """supervisord running `programs` and the guard from the config run.py writes (supervisor_conf.render), in a
    session of its own (os.killpg(proc.pid, ...) ends it and everything under it); `popen`: stdout, env, text..."""
    layout.create()
    layout.supervisor_conf.write_text(supervisor_conf.render(layout, programs, str(ROOT)))
    return subprocess.Popen(supervisord_main.command(str(layout.supervisor_conf)),
                            cwd=ROOT, start_new_session=True, **popen)


def runs(sup: Supervisor, name: str) -> bool:
    """Whether program `name` is RUNNING (False while supervisord does not answer yet): for wait_for."""
    try:
        return sup.pid(name) > 0
    except OSError:
        return False
