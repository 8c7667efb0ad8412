"""The app in a process of its own, as run.py's API processes are: `python -m tests.api_process` reads the app's
settings as one JSON line on stdin, serves them on a free port of 127.0.0.1 (threaded werkzeug, as the suite's
`serving`), prints `port N` and serves until its stdin closes. Tests start two of these on one Redis to see
state that must be shared between API processes (no test here: pytest collects only test_*.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 120  # imports and the app's start on a busy 2-core machine
HIDDEN_ENV = "MA_TEST_NOT_INSTALLED"  # api_process' `without`, to the child


@contextmanager
def api_process(settings: dict, *, without: tuple[str, ...] = (), env: dict[str, str] | None = None
                ) -> Iterator[str]:
    """One app process on `settings`; yields its base URL and ends it (closing its stdin) on the way out.
    `without`: packages that process cannot import, as on a server installed without them (the PyPI copies of
    tiny.en and SmolLM2 of requirements-models.txt); `env`: added to its environment."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.api_process"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {}), HIDDEN_ENV: ",".join(without)})
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(settings) + "\n")
        proc.stdin.flush()
        line = _first_line(proc, START_SECONDS)
        assert line.startswith("port "), f"the app process did not start: {line!r}"
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@contextmanager
def api_processes(settings: dict, count: int) -> Iterator[list[str]]:
    with ExitStack() as stack:
        yield [stack.enter_context(api_process(settings)) for _ in range(count)]


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return got[0] if got else ""


def main() -> None:
    from werkzeug.serving import make_server

    from app import create_app

    for name in filter(None, os.environ.get(HIDDEN_ENV, "").split(",")):
        sys.modules[name] = None  # type: ignore[assignment]  # Python's own "cannot be imported" (ImportError)
    settings = json.loads(sys.stdin.readline())
    srv = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(f"port {srv.server_port}", flush=True)
    sys.stdin.read()  # until the test closes our stdin (or dies)
    srv.shutdown()


if __name__ == "__main__":
    main()
