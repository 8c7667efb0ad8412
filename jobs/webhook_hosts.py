"""Where a webhook may go (WEBHOOK_ALLOWED_HOSTS) and how a delivery gets there.

A host is allowed by its name, or when every address it resolves to lies in an allowed network. A host allowed
through a network is checked on the addresses its name resolves to; requests would then resolve the name again to
connect, and a name answering a public address to the check and 127.0.0.1 to the connection (DNS rebinding)
reached the loopback (a security trial). `post_pinned` connects to the checked address while the request still
names the host: Host header, TLS SNI and certificate check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from worker.errors import InvalidRequestError


def allowed_networks(settings: Mapping[str, Any]) -> tuple[set[str], list[ipaddress._BaseNetwork]]:
    names: set[str] = set()
    networks: list[ipaddress._BaseNetwork] = []
    for item in str(settings.get("WEBHOOK_ALLOWED_HOSTS") or "").split(","):
        item = item.strip().lower()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            names.add(item)
    return names, networks


def check_host(host: str, settings: Mapping[str, Any], *, resolve: bool) -> list[str]:
    """The addresses to connect to for `host`, if the allow-list allows it; else 400 `webhook_not_allowed`.

    A host is allowed by its name, or when every address it resolves to lies in an allowed network.
    With `resolve`, the returned addresses are the ones checked (the sender connects to one of them).
    """
    names, networks = allowed_networks(settings)
    host = host.lower().strip("[]")
    literal = _literal(host)
    if not resolve and (host in names or (literal is not None and any(literal in n for n in networks))):
        return [host]
    addresses = [str(literal)] if literal is not None else (_resolve(host) if (resolve or networks) else [])
    by_name = host in names
    if addresses and (by_name or all(any(ipaddress.ip_address(a) in n for n in networks) for a in addresses)):
        return addresses
    if by_name and not resolve:
        return [host]
    raise InvalidRequestError(f"webhook host {host!r} is not in WEBHOOK_ALLOWED_HOSTS", code="webhook_not_allowed",
                              details={"host": host})


def _resolve(host: str) -> list[str]:
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})
    except OSError:
        return []


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address `host` writes out (no lookup connects to anything else), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def pin_address(host: str, addresses: list[str], settings: Mapping[str, Any]) -> str | None:
    """The checked address a delivery to `host` must connect to: one of `addresses` for a name allowed through a
    network; None for an address literal or a name allowed by name (its lookups are trusted)."""
    if _literal(host) is not None or host.lower() in allowed_networks(settings)[0] or not addresses:
        return None
    return addresses[0]


class _PinnedHost(HTTPAdapter):
    """TLS to an address literal, presenting and verifying the original host name."""

    def __init__(self, hostname: str):
        self.hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.hostname
        kwargs["assert_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)


def pinned_url(url: str, address: str) -> tuple[str, str]:
    """(the URL with its host replaced by `address`, the Host header the original URL implies)."""
    parts = urlsplit(url)
    literal = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    port = f":{parts.port}" if parts.port else ""
    host_header = (f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or "") + port
    userinfo = parts.netloc.rpartition("@")[0]  # credentials for the receiver, if the URL carries them
    netloc = (f"{userinfo}@" if userinfo else "") + literal + port
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), host_header


def post_pinned(url: str, address: str, *, data: bytes, headers: dict[str, str], timeout: float) -> requests.Response:
    """POST `url` over a connection to `address` (never a redirect: the caller's rule for every delivery)."""
    target, host_header = pinned_url(url, address)
    with requests.Session() as session:  # one adapter per host name: its TLS settings name that host
        if urlsplit(url).scheme == "https":  # plain HTTP has no name to present but the Host header
            session.mount("https://", _PinnedHost(urlsplit(url).hostname or ""))
        return session.post(target, data=data, headers={**headers, "host": host_header}, timeout=timeout,
                            allow_redirects=False)
