"""A worker's numba warm-up at start (NUMBA_WARMUP): worker/warmup.py in a process of its own, started and waited
for by a thread, so the heartbeat and a job's start never wait for it.

A stranger's fresh install ran its first features job in 105 s and its first pitch job in 68 s (later tracks: 7 s):
librosa's and our numba functions compiled in the job (~18 s idle, far more under load), once per DATA_DIR's
cache, and again in each prefork pool child until the cache held them. The warm-up compiles them into the cache
before the first job comes, at nice 19. A job that comes first simply compiles what it needs as before (nothing
here holds a lock a job takes); what the warm-up has cached by then, the job loads.

The cache directory: NUMBA_CACHE_DIR as set (run.py sets DATA_DIR/numba-cache), else DATA_DIR/numba-cache, put in
this process' environment before the pool children fork and before the main process imports the jobs' modules
(`preload_job_modules`: numba reads it at its import), so the warm-up writes where the jobs read. A process that
imported numba already (a worker embedded in another program) keeps the directory numba read, and the warm-up is
given the same.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from worker.warmup import DEFAULT_NICE, NICE_ENV, PARENT_ENV  # stdlib imports only: the warm-up's own are in warm()

log = logging.getLogger(__name__)

# What a features or pitch job imports on its first run in a process: the work module (~3 s: numpy, scipy, librosa,
# numba) and what that run then imports lazily (librosa's submodules, soxr, matplotlib's Agg canvas, PIL, pretty_midi;
# listed from sys.modules after a run). Imported by a CPU worker's main process before its pool forks, every pool
# child starts with them: a stranger's extra worker had spent ~5 s of a 1.6 s clip's first job in each new child.
PRELOADED_MODULES = ("jobs.work.analysis", "librosa.core", "librosa.filters", "librosa.util", "librosa._cache", "soxr",
                     "matplotlib.figure", "matplotlib.backends.backend_agg", "PIL.Image", "pretty_midi",
                     "librosa.decompose", "librosa.segment")  # the last two: `repet` stems (~0.9 s per child)


def preload_job_modules(names: tuple[str, ...] = PRELOADED_MODULES) -> float:
    """Import `names` in this process (a worker's main process, before its pool forks); the seconds it took. A module
    that fails to import is left to the job, which reports it as before."""
    start = time.monotonic()
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # an optional part missing: the job that needs it says so, as without the preload
            log.warning("could not import %s before the pool started; the jobs import it themselves", name,
                        exc_info=True)
    return time.monotonic() - start

ROOT = Path(__file__).resolve().parent.parent  # the checkout: `python -m worker.warmup` is run from it
ERROR_TAIL_CHARS = 2000  # of the warm-up's error output, quoted in the log when it fails


def numba_cache_dir(data_dir: str | Path) -> str | None:
    """Where this process' jobs cache numba code (None: numba's default, next to each package or in ~/.cache)."""
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:  # numba has read its setting: changing the environment now changes nothing
        return getattr(numba_config, "CACHE_DIR", "") or None
    return os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(data_dir) / "numba-cache"))


def cached_functions(cache_dir: str | None) -> int:
    """numba index files (one per compiled function, any number of signatures) under `cache_dir`."""
    return sum(1 for _ in Path(cache_dir).rglob("*.nbi")) if cache_dir else 0


def tail(fh: IO[bytes]) -> str:
    fh.seek(max(0, fh.seek(0, os.SEEK_END) - ERROR_TAIL_CHARS))
    return fh.read().decode(errors="replace")


class NumbaWarmup:
    """Runs `python -m worker.warmup` once, from a daemon thread; `stop()` ends it with the worker."""

    def __init__(self, data_dir: str | Path, *, nice: int = DEFAULT_NICE):
        self.data_dir = data_dir
        self.nice = nice  # the warm-up's os.nice increment (NUMBA_WARMUP_NICE)
        self.cache_dir: str | None = None
        self.state = "off"  # running, then done, failed or stopped
        self.seconds: float | None = None
        self._lock = threading.Lock()  # the thread and stop() only; never taken by a job
        self._proc: subprocess.Popen | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Call before the pool forks (the cache directory goes into the environment its children inherit)."""
        self.cache_dir = numba_cache_dir(self.data_dir)
        self.state = "running"
        self._thread = threading.Thread(target=self._run, name="ma-numba-warmup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()  # compiled code already written stays; the next start compiles the rest

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        start = time.monotonic()
        try:
            stages, code, errors = self._warm()
        except Exception:  # no Python, no /tmp: the jobs compile as before
            self.state = "failed"
            log.warning("numba warm-up could not run; the first jobs compile the analysis code themselves",
                        exc_info=True)
            return
        self.seconds = round(time.monotonic() - start, 1)
        if code == 0:  # logged first: the "done" in the next heartbeat follows the line (a test waits on it)
            log.info("numba warm-up done in %.1f s (%s): %d compiled functions cached in %s, which the analysis "
                     "jobs load instead of compiling", self.seconds,
                     ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()), cached_functions(self.cache_dir),
                     self.cache_dir or "numba's default cache")
            self.state = "done"
        elif code is not None:
            self.state = "failed"
            log.warning("numba warm-up failed after %.1f s (exit status %s); the first jobs compile the analysis "
                        "code themselves: %s", self.seconds, code, errors.strip())
        else:
            self.state = "stopped"  # the worker stopped first

    def _warm(self) -> tuple[dict[str, float], int | None, str]:
        env = dict(os.environ)
        if self.cache_dir is None:
            env.pop("NUMBA_CACHE_DIR", None)
        else:
            env["NUMBA_CACHE_DIR"] = self.cache_dir
        # the warm-up checks it is still this process' child: one whose worker died while it started (Python and
        # numpy take a second or so) read its orphaned parent as its own and compiled on to its end, minutes under load
        env[PARENT_ENV] = str(os.getpid())
        env[NICE_ENV] = str(self.nice)
        # its output goes to unlinked files, never to a pipe (read in bounded tails, nothing can fill and block it)
        # nor to a folder of ours: a worker killed outright (kill -9, the OOM killer) had left its scratch folder
        # (~0.5 MB in /tmp) behind each time. The warm-up makes and removes its own scratch folder, also when this
        # process dies under it (worker/warmup.py)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            with self._lock:
                if self._stopped:
                    return {}, None, ""
                self._proc = subprocess.Popen([sys.executable, "-m", "worker.warmup"], cwd=ROOT, env=env,
                                              stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            code = self._proc.wait()
            lines = tail(out).strip().splitlines()
            errors = tail(err)
        if self._stopped:
            return {}, None, errors
        try:
            stages = json.loads(lines[-1]) if code == 0 and lines else {}
        except ValueError:
            stages = {}
        return stages, code, errors
