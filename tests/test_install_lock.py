"""scripts/install.sh (run.sh's first step) installs one at a time into one Python: two runs started together take
turns, where two pips writing one site-packages at once had broken a stranger's run.sh inside pip's resolver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def small_requirements(tmp_path: Path) -> str:
    """install.sh's requirements file (its argument, as scripts/test.sh passes requirements-dev.txt): one package
    that is installed already. pip resolving requirements.txt's 50 lines took ~5 s of each run's three calls; what
    the runs install is not what these tests check, their pip calls (all three, the real pip) and the lock are."""
    path = tmp_path / "requirements-small.txt"
    path.write_text("requests\n")
    return str(path)


@pytest.mark.slow
def test_two_installs_started_together_take_turns(tmp_path):
    log = tmp_path / "pip.log"
    pip = tmp_path / "pip.sh"  # the real pip, each call's start and end written down with the run it belongs to
    pip.write_text('echo "start $RUN $(date +%s.%N)" >> "$LOG"\n'
                   f'"{sys.executable}" -m pip "$@"\n'
                   'status=$?\necho "end $RUN $(date +%s.%N)" >> "$LOG"\nexit $status\n')
    env = {**os.environ, "PIP": f"bash {pip}", "LOG": str(log), "TMPDIR": str(tmp_path)}
    runs = [subprocess.Popen(["bash", str(ROOT / "scripts" / "install.sh"), small_requirements(tmp_path)],
                             env={**env, "RUN": name},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for run in runs:
        _, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-2000:]
    events = [line.split() for line in log.read_text().splitlines()]
    assert len(events) == 12  # three pip calls each
    order = [run for _, run, _ in sorted(events, key=lambda e: float(e[2]))]
    # every call of the run that got the lock first ends before any call of the other starts
    assert order == [order[0]] * 6 + [order[-1]] * 6 and order[0] != order[-1], events


@pytest.mark.slow
def test_an_install_whose_tmpdir_cannot_hold_the_lock_goes_on_without_it(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path / "no-such-folder")}
    run = subprocess.run(["bash", str(ROOT / "scripts" / "install.sh"), small_requirements(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
