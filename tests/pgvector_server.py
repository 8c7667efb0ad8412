"""A private PostgreSQL with pgvector for the library's tests: the PyPI package `pgserver` (requirements-dev.txt)
bundles PostgreSQL 16 binaries with the `vector` extension, which neither Debian's packages here nor the system
PostgreSQL at 127.0.0.1:5432 have.

The server listens on a unix socket in its own data directory (no port, so test runs sharing the host do not
meet), made by mkdtemp in the system temporary directory rather than pytest's: pgserver runs PostgreSQL as a
user of its own when the tests run as root and opens the directories above the data for it, and a pytest
session starting meanwhile closes its pytest-of-<user> directory to others again.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def pgvector_server() -> Iterator[str]:
    """A running server's connection URL (database `postgres`, superuser, trust auth), stopped and deleted after."""
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="library-pgvector-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR in containers
        server = pgserver.get_server(folder / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
