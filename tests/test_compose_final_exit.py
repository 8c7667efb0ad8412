"""Compose's workers run under service.final_exit: a worker that exits 78 (EX_CONFIG) leaves the container up, idle
and unhealthy, where `restart: unless-stopped` had restarted it in a loop (each start taking a job and handing it
back); any other exit is the worker's own, and docker stop's SIGTERM reaches the worker. Real processes: the wrapper
as Compose starts it, around small Python programs that end as a worker does."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import yaml

from config import EX_CONFIG

ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 60


def wrapped(tmp_path: Path, program: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "service.final_exit", "--mark", str(tmp_path / "stopped"), "--",
                             sys.executable, "-c", program], cwd=ROOT, text=True, **popen)


def test_compose_runs_each_worker_under_the_wrapper_and_checks_its_mark():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("gpu-worker", "cpu-worker"):
        service = services[name]
        assert service["command"][:4] == ["python", "-m", "service.final_exit", "--"], name
        assert service["command"][4] == "celery" and service["restart"] == "unless-stopped", name
        assert service["init"] is True, name  # pid 1 that passes SIGTERM on
        assert "/tmp/music-analyzer-worker-stopped" in " ".join(service["healthcheck"]["test"]), name
        # as run.py's workers and the systemd unit: no mingle (1 s at each start), no gossip ("missed heartbeat from"
        # the service's other workers, which send no such events)
        assert {"--without-mingle", "--without-gossip"} <= set(service["command"]), name


def test_a_worker_that_exits_78_is_held_up_unhealthy_until_stopped(tmp_path):
    program = f"import sys; print('CRITICAL not the service data directory', file=sys.stderr); sys.exit({EX_CONFIG})"
    proc = wrapped(tmp_path, program, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        assert "CRITICAL not the service data directory" in proc.stderr.readline()  # the worker's own line first
        note = proc.stderr.readline()  # then the wrapper's, once it holds
        assert f"exited with status {EX_CONFIG}" in note and "NOT restarted" in note, note
        assert proc.poll() is None  # up: nothing for the restart policy to restart
        assert "NOT restarted" in (tmp_path / "stopped").read_text()  # what the healthcheck finds
        proc.send_signal(signal.SIGTERM)  # docker stop
        assert proc.wait(timeout=WAIT_SECONDS) == EX_CONFIG
    finally:
        proc.kill()
        proc.wait()


def test_other_exits_are_the_workers_own_and_sigterm_reaches_it(tmp_path):
    assert wrapped(tmp_path, "import sys; sys.exit(1)").wait(timeout=WAIT_SECONDS) == 1  # restarted by the policy
    assert not (tmp_path / "stopped").exists()
    program = ("import signal, sys\n"
               "signal.signal(signal.SIGTERM, lambda *_: (print('warm shutdown', flush=True), sys.exit(0)))\n"
               "print('ready', flush=True)\n"
               "signal.pause()\n")
    proc = wrapped(tmp_path, program, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout.readline() == "warm shutdown\n"
        assert proc.wait(timeout=WAIT_SECONDS) == 0
    finally:
        proc.kill()
        proc.wait()
