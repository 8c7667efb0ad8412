"""The Python client's life in a developer's program: `with MusicAnalyzer(...)` and close() (connections of every
thread), waiting for a job that fails, is canceled or outlasts the wait, and progress heard while waiting."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import psutil
import pytest
from music_analyzer_client import MusicAnalyzer

from tests.conftest import PASSWORD, USER
from tests.keepalive_server import keepalive_serving


@pytest.fixture(scope="module")
def keepalive_server(app, celery_worker):
    with keepalive_serving(app) as base:
        yield base


def client_sockets(server: str) -> set[tuple[str, int]]:
    """This process's open TCP connections to the server (their local addresses): the client's side only."""
    port = urlsplit(server).port
    return {(c.laddr.ip, c.laddr.port) for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == port}


def test_with_closes_the_connections_of_every_thread(keepalive_server):
    server = keepalive_server
    before = client_sockets(server)
    with ThreadPoolExecutor(4) as pool:  # its threads outlive the client: their connections must not
        with MusicAnalyzer(server, USER, PASSWORD) as ma:
            barrier = threading.Barrier(4)

            def read(_: int) -> bool:
                barrier.wait()  # all four at once: one connection per thread
                return ma.storage() is not None

            assert all(pool.map(read, range(4)))
            opened = client_sockets(server) - before
            assert len(opened) >= 4
        assert not opened & client_sockets(server), "connections left open after the with block"
        assert ma.storage() is not None  # still usable after close(): a new connection
    ma.close()
    assert not (client_sockets(server) - before)
