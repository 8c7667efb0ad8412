"""A real, small filesystem to fill: a tmpfs mounted under the test's own tmp folder (the tests run as root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NO_SPACE = 28  # ENOSPC


@contextmanager
def small_disk(where: Path, *, size_mb: int = 8) -> Iterator[Path]:
    """A `size_mb` tmpfs at `where` (skipped, with the reason, where mounting is not permitted)."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root; this test mounts a tmpfs")
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the filesystem refuses another byte; returns it (remove it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError as e:
                assert e.errno == NO_SPACE, e
    finally:
        os.close(fd)
    st = os.statvfs(disk)
    assert st.f_bavail == 0, f"{st.f_bavail} blocks still free"
    return filler


def files_under(folder: Path) -> list[str]:
    """Every file below `folder`, hidden ones (temporary .part files, markers) included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@contextmanager
def valkey_on_a_small_disk(tmp_path: Path, *, size_mb: int = 16) -> Iterator[tuple[Path, str, subprocess.Popen]]:
    """(disk, url, process): a valkey-server as run.py embeds it, its files on a `size_mb` tmpfs to fill; stopped
    (if still running) and the disk unmounted afterwards."""
    from redis_server import free_port, redis_answers, valkey_binary, write_embedded_config
    from tests.conftest import wait_for

    with small_disk(tmp_path / "disk", size_mb=size_mb) as disk:
        port = free_port()
        url = f"redis://127.0.0.1:{port}/0"
        valkey = subprocess.Popen([str(valkey_binary()), str(write_embedded_config(disk / "data", port))],
                                  stdout=subprocess.DEVNULL)
        try:
            wait_for(lambda: redis_answers(url), timeout=20, message="valkey to answer")
            yield disk, url, valkey
        finally:
            if valkey.poll() is None:
                valkey.terminate()
                valkey.wait(timeout=30)
