"""A webhook delivery's connection (`deliver`): to the address jobs/webhook_hosts.py checked, bounded in time as a
whole, the answer's body never read. Imported by the first delivery, not with the app: requests and urllib3 had
cost every API, worker and run.py start ~0.1 s of CPU (tests/test_app_import_light.py)."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .webhook_hosts import pinned_url


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _opened(self.sock)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _opened(self.sock)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_delivery = threading.local()  # the sockets the calling thread's delivery has opened


def _opened(sock: socket.socket | None) -> None:
    sockets = getattr(_delivery, "sockets", None)
    if sockets is not None and sock is not None:
        sockets.append(sock)


class _DeliveryAdapter(HTTPAdapter):
    """No retries; connections whose sockets the delivery's deadline can shut; for a pinned address over TLS,
    the original host name presented (SNI) and verified."""

    def __init__(self, hostname: str | None = None):
        self.hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        if self.hostname:
            kwargs["server_hostname"] = self.hostname
            kwargs["assert_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def deliver(url: str, address: str | None, *, data: bytes, headers: dict[str, str],
            seconds: float) -> int:
    """POST `url` (over a connection to `address`, a checked address, where given) and return the answer's status,
    all of it within `seconds`: never a redirect, and never the answer's body. Raises requests' exceptions, and
    TimeoutError once `seconds` have passed. A timeout given to requests bounds each read, not the whole: a
    stranger's receiver that sent one byte a second held a sender for 1000 s, and one that sent 2 GB after its
    200 took a worker to 4 GB, since the body was read whole."""
    target, host = (url, None) if address is None else pinned_url(url, address)
    parts = urlsplit(url)
    opened: list[socket.socket] = []  # this delivery's sockets, as its connections open them (_opened)
    _delivery.sockets = opened
    expired = threading.Event()

    def expire() -> None:  # on the timer's thread
        expired.set()
        for sock in list(opened):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once
            except OSError:
                pass

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    try:
        with requests.Session() as session:
            pinned_tls = address is not None and parts.scheme == "https"
            session.mount("http://", _DeliveryAdapter())
            session.mount("https://", _DeliveryAdapter(parts.hostname if pinned_tls else None))
            extra = {"host": host} if host else {}
            timer.start()
            try:
                with session.post(target, data=data, headers={**headers, **extra, "connection": "close"},
                                  timeout=seconds, allow_redirects=False, stream=True) as response:
                    return response.status_code
            except (requests.RequestException, OSError) as e:
                if expired.is_set():
                    raise TimeoutError(f"no answer within {seconds:g} s") from e
                raise
    finally:
        timer.cancel()
        _delivery.sockets = None
