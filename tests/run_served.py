"""One `python run.py` started by a test: its process, ports and data, and the probes the run-command,
supervision and disk tests share (no test here: pytest collects only test_*.py)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from redis_server import free_port, redis_answers
from service.control import Supervisor
from service.layout import RunLayout

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "runner", "run-command test password"
AUTH = (USER, PASSWORD)


@dataclass
class Served:
    proc: subprocess.Popen
    port: int
    data: Path
    redis_url: str
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def layout(self) -> RunLayout:
        return RunLayout.for_data_dir(self.data)

    def sup(self) -> Supervisor:
        return Supervisor(self.layout)

    def output(self) -> str:
        return "".join(self.lines)


def start_run(tmp: Path, extra_env: dict[str, str], args: list[str] | None = None,
              output: Path | None = None) -> Served:
    """`output`: run.py's output goes to that file, opened as a shell's `>` opens it (truncated, not appending),
    instead of a pipe read into `lines`."""
    api_port, redis_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    assert not redis_answers(redis_url)
    env = {**os.environ, "DATA_DIR": str(tmp / "data"), "REDIS_URL": redis_url, "MODELS_DIR": str(tmp / "models"),
           "HEARTBEAT_SECONDS": "0.5", **extra_env}
    command = [sys.executable, "run.py", "--port", str(api_port), "--api-workers", "1", "--cpu-concurrency", "1",
               *(args or [])]
    if output is not None:
        with open(output, "w") as out:
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        return Served(proc, api_port, tmp / "data", redis_url, env)
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served = Served(proc, api_port, tmp / "data", redis_url, env)
    # drain run.py's output as it comes: supervisord logs there, and a full pipe would stall it
    threading.Thread(target=lambda: served.lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    return served


@contextmanager
def run_behind_nginx(tmp: Path, extra_env: dict[str, str]) -> Iterator[Served]:
    """A run.py with nginx in front, once /health answers with every queue served; stopped afterwards."""
    from tests.conftest import wait_for

    run = start_run(tmp, extra_env)
    try:
        wait_for(lambda: health(run.base), timeout=180, interval=0.2, message="run.py to serve /health")
        # the banner follows /health's answer (service/startup.py): from run.py's own poll of it
        wait_for(lambda: "Music Analyzer API:" in run.output(), timeout=30, message="run.py's banner")
        assert "front: nginx on" in run.output(), run.output()
        yield run
    finally:
        if run.proc.poll() is None:
            stop_run(run)
        run.layout.remove_metrics_dir()  # a run killed with -9 leaves them in /dev/shm


def stop_run(served: Served) -> int:
    served.proc.send_signal(signal.SIGTERM)
    return served.proc.wait(timeout=150)


def health(base: str, timeout: float = 2.0) -> dict | None:
    """/health's body when it answers 200 with every queue served, else None."""
    try:
        r = requests.get(base + "/health", timeout=timeout)
    except requests.RequestException:
        return None
    return r.json() if r.status_code == 200 and r.json().get("status") == "ok" else None


def probe(served: Served, queue: str, wait: float = 30) -> bool:
    """A worker ran a no-op job of `queue` within `wait` s (the answer comes as soon as one does: a long wait costs
    only a failing run). 5 s had failed a CI run on a loaded machine, the workers just come up on a Redis that
    had been away: the job queued, their first task not yet taken."""
    try:
        r = requests.post(served.base + "/jobs/probe", json={"queue": queue, "wait": wait}, auth=AUTH,
                          timeout=wait + 5)
    except requests.RequestException:
        return False
    return r.status_code == 200 and r.json().get("ok") is True


def group_alive(group: int) -> bool:
    """A live (not zombie) process is still in process group `group`."""
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == group and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except OSError:
            continue
    return False


def features_session(served: Served, tmp: Path, seconds: list[float]) -> tuple[str, list[str]]:
    """A session with one tone per entry of `seconds` (16 kHz); (session id, file names)."""
    import soundfile as sf

    from tests.audio_synth import sine

    sid = requests.post(served.base + "/sessions", auth=AUTH, timeout=30).json()["session_id"]
    names = []
    for i, length in enumerate(seconds):
        path = tmp / f"tone{i}.wav"
        sf.write(path, sine(220 + 40 * i, length, sr=16000), 16000)
        with open(path, "rb") as fh:
            assert requests.post(f"{served.base}/sessions/{sid}/files", files={"file": fh}, auth=AUTH,
                                 timeout=60).status_code == 201
        names.append(path.name)
    return sid, names


def long_job(served: Served, kind: str, tmp: Path) -> str:
    """A job that runs for several seconds: a features batch (cpu queue), or a long generation with the converted
    SmolLM2 the run is given (gpu queue; it had been a 4-token one whose load converted the GGUF, ~30 s, once
    more after the kill: a conversion does not hear a cancel, a generation does at its next token)."""
    if kind == "gpu":
        long_generation = {"prompt": "Write the numbers from 1 to 300, separated by commas.", "max_length": 600,
                           "temperature": 0, "wait": 0}
        r = requests.post(served.base + "/api/v2/models/generate", json=long_generation, auth=AUTH, timeout=30)
        assert r.status_code == 202, r.text
        return r.json()["job_id"]
    sid, _ = features_session(served, tmp, [20.0] * 2)
    r = requests.post(f"{served.base}/process/features/{sid}", json={}, auth=AUTH, timeout=30)
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def raw_request(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; read one answer (up to its Content-Length: nginx may linger before closing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        received = b""
        try:
            while chunk := s.recv(65536):
                received += chunk
                head, sep, body = received.partition(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if sep and length and len(body) >= int(length.group(1)):
                    break
        except ConnectionResetError:  # nginx may reset after an error answer; what came before counts
            pass
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def session_members(served: Served) -> list[psutil.Process]:
    """supervisord and everything it started (they share its session)."""
    session = int((served.layout.run / "supervisord.pid").read_text())
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == session:
                members.append(proc)
        except OSError:
            continue
    return members


def still_alive(procs: list[psutil.Process]) -> list[int]:
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return alive
