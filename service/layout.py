"""Where one run keeps its generated files: configs and sockets in DATA_DIR/run, logs in DATA_DIR/logs."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

# A unix socket path must fit in sun_path (108 bytes on Linux, 104 on macOS); keep a margin.
_MAX_SOCKET_PATH = 100
SHARED_MEMORY_DIR = "/dev/shm"  # a tmpfs on Linux: the metrics files live there, off the data disk


@dataclass(frozen=True)
class RunLayout:
    data: Path  # DATA_DIR, resolved
    run: Path  # generated configs, pid files
    logs: Path  # one log file per program, plus supervisord's
    sockets: Path  # unix sockets (DATA_DIR/run unless that path is too long for a socket)
    nginx: Path  # nginx's prefix: its temp folders (request bodies buffered to disk)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> RunLayout:
        data = Path(data_dir).resolve()
        run = data / "run"
        sockets = run
        if len(str(run / "supervisor.sock")) > _MAX_SOCKET_PATH:
            # deep data directories: sockets go to a short private folder named after the data dir
            digest = hashlib.sha1(str(data).encode()).hexdigest()[:16]
            sockets = Path(tempfile.gettempdir()) / f"music-analyzer-{digest}"
        return cls(data=data, run=run, logs=data / "logs", sockets=sockets, nginx=data / "nginx")

    def create(self) -> None:
        for folder in (self.data, self.run, self.logs, self.nginx):
            folder.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(mode=0o700, parents=True, exist_ok=True)

    @property
    def metrics(self) -> Path:
        """prometheus-client's multiprocess files (PROMETHEUS_MULTIPROC_DIR of every program; the API's HTTP and
        upload counters: those of the work are in Redis, jobs/cluster_metrics.py): in memory
        (/dev/shm) where the system has it, named after the data dir. Every process maps these files; on a
        full DATA_DIR disk a write to a mapped page is a SIGBUS, and a stranger's API workers died ~4,000 times
        in 10 minutes there (each restart adding files) though the API should keep answering reads."""
        shm = Path(SHARED_MEMORY_DIR)
        if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
            digest = hashlib.sha1(str(self.data).encode()).hexdigest()[:16]
            return shm / f"music-analyzer-{digest}" / "metrics"
        return self.run / "metrics"

    def fresh_metrics_dir(self) -> Path:
        """Emptied at each start: files of a previous run's processes would be summed as if still running."""
        shutil.rmtree(self.metrics, ignore_errors=True)
        self.metrics.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.metrics.mkdir()
        return self.metrics

    def remove_metrics_dir(self) -> None:
        """At the end of a run: memory is not kept for counters nobody will read (nor the folder named after
        DATA_DIR that holds them in /dev/shm). A run killed with -9 leaves them to its next start."""
        shutil.rmtree(self.metrics, ignore_errors=True)
        if self.metrics.parent != self.run:
            shutil.rmtree(self.metrics.parent, ignore_errors=True)

    @property
    def lock_file(self) -> Path:
        return self.data / "run.lock"

    @property
    def supervisor_conf(self) -> Path:
        return self.run / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.sockets / "supervisor.sock"

    @property
    def api_socket(self) -> Path:
        return self.sockets / "api.sock"

    @property
    def events_socket(self) -> Path:
        """The gevent server of GET /jobs/<id>/events (service/programs.py `events`)."""
        return self.sockets / "events.sock"

    @property
    def nginx_conf(self) -> Path:
        return self.run / "nginx.conf"

    @property
    def nginx_site_conf(self) -> Path:
        return self.run / "nginx-site.conf"
