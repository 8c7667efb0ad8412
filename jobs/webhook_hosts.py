"""Where a webhook may go (WEBHOOK_ALLOWED_HOSTS) and how a delivery gets there.

A host is allowed by its name, or when every address it resolves to lies in an allowed network. A host allowed
through a network is checked on the addresses its name resolves to; requests would then resolve the name again to
connect, and a name answering a public address to the check and 127.0.0.1 to the connection (DNS rebinding)
reached the loopback (a security trial). `deliver` connects to the checked address while the request still
names the host: Host header, TLS SNI and certificate check; and it bounds the whole delivery in time, not
each read, and never reads the answer's body (jobs/webhook_deliver.py, imported by a delivery: requests and urllib3
are not imported with the app, which every API, worker and run.py start pays).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from worker.errors import InvalidRequestError


def url_host(url: str) -> str:
    """The host `url` names, once both readings of it agree: urlsplit's (the allow-list's check) and requests'
    (the connection); else 400 `invalid_webhook`. They read a backslash differently: in
    `http://10.0.0.5:6379\\@hooks.example.net/` urlsplit saw the allowed hooks.example.net and requests connected
    to 10.0.0.5:6379 (a security trial: a host the allow-list never named got the signed delivery). So a URL
    is printable ASCII without backslashes (a host in its punycode form), and both parsers must find the same host
    and port in it."""
    bad = InvalidRequestError("webhook must be an http(s) URL of printable ASCII without backslashes (a host name "
                              "in its xn-- form)", code="invalid_webhook")
    if not url.isascii() or not url.isprintable() or any(c in url for c in " \\"):
        raise bad
    import requests  # here, not at the module's import: every API and worker start imports this module (~0.1 s)
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parts = urlsplit(url)
        port = parts.port  # a port out of 1-65535 or not a number raises here, not at every delivery
        sent = parse_url(requests.Request("POST", url).prepare().url or "")
    except (ValueError, LocationParseError, requests.RequestException) as e:  # "http://[::1/", an unclosed literal
        raise bad from e
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise bad
    if ((sent.host or "").lower().strip("[]"), sent.port) != (parts.hostname.lower().strip("[]"), port):
        raise bad
    return parts.hostname


AllowEntry = tuple[str | ipaddress._BaseNetwork, int | None]  # (a name or a network, its one port or None: any)


@functools.lru_cache(maxsize=8)  # read at each check of each delivery (twice per delivery): parsed once per value
def parse_allow_list(text: str) -> tuple[AllowEntry, ...]:
    """WEBHOOK_ALLOWED_HOSTS' entries: `host`, `host:port`, `address`, `address:port`, `[v6]`, `[v6]:port`,
    `network` (CIDR), `[network]:port`. An entry with a port allows that port only: a stranger's `127.0.0.1`,
    allowed for one local receiver, let a webhook reach every loopback port (a password-less valkey among them).
    A bare entry still allows every port. Raises ValueError naming an entry whose port is not 1-65535."""
    entries: list[AllowEntry] = []
    for raw in text.split(","):
        item = raw.strip().lower()
        if not item:
            continue
        host, port = _split_port(item)
        try:
            entries.append((ipaddress.ip_network(host, strict=False), port))
        except ValueError:  # a name (one that names nothing never matches, as before)
            entries.append((host, port))
    return tuple(entries)


def _split_port(item: str) -> tuple[str, int | None]:
    """(host part, port or None). A bare IPv6 address or network has colons of its own: only `[v6]:port` and
    `name:port` / `v4:port` (one colon) name a port."""
    if item.startswith("["):
        inside, _, rest = item[1:].partition("]")
        if not rest:
            return inside, None
        if not rest.startswith(":"):
            raise ValueError(f"{item!r}: after ']' only ':port' may follow")
        return inside, _port(item, rest[1:])
    if item.count(":") == 1:
        host, _, port = item.partition(":")
        return host, _port(item, port)
    return item, None


def _port(item: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{item!r}: the port must be a number from 1 to 65535")
    return int(text)


def allowed_networks(settings: Mapping[str, Any], port: int) -> tuple[set[str], list[ipaddress._BaseNetwork]]:
    """The names and networks of WEBHOOK_ALLOWED_HOSTS that allow `port`: entries naming another port are left out,
    so a host is then checked as if the list had only the others."""
    names: set[str] = set()
    networks: list[ipaddress._BaseNetwork] = []
    for host, only in parse_allow_list(str(settings.get("WEBHOOK_ALLOWED_HOSTS") or "")):
        if only is not None and only != port:
            continue
        if isinstance(host, str):
            names.add(host)
        else:
            networks.append(host)
    return names, networks


def url_port(url: str) -> int:
    """The port a delivery to `url` connects to: the one it names, else its scheme's (80 / 443)."""
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def check_host(host: str, port: int, settings: Mapping[str, Any], *, resolve: bool) -> list[str]:
    """The addresses to connect to for `host` on `port`, if the allow-list allows it; else 400 `webhook_not_allowed`.

    A host is allowed by its name, or when every address it resolves to lies in an allowed network, by an entry
    that names this port or none.
    With `resolve`, the returned addresses are the ones checked (the sender connects to one of them).
    """
    names, networks = allowed_networks(settings, port)
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
    if not str(settings.get("WEBHOOK_ALLOWED_HOSTS") or "").strip():
        # the default: no host is allowed, which "host 'x' is not allowed" did not say (a stranger's trial took it
        # for a mistyped URL)
        raise InvalidRequestError("webhooks are off on this server: its WEBHOOK_ALLOWED_HOSTS setting lists no "
                                  "host deliveries may go to (the operator sets it)", code="webhook_not_allowed",
                                  details={"host": host, "port": port})
    raise InvalidRequestError(f"webhook host {host!r} port {port} is not allowed by WEBHOOK_ALLOWED_HOSTS",
                              code="webhook_not_allowed", details={"host": host, "port": port})


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


def pin_address(host: str, port: int, addresses: list[str], settings: Mapping[str, Any]) -> str | None:
    """The checked address a delivery to `host` on `port` must connect to: one of `addresses` for a name allowed
    through a network; None for an address literal or a name allowed by name there (its lookups are trusted)."""
    if _literal(host) is not None or host.lower() in allowed_networks(settings, port)[0] or not addresses:
        return None
    return addresses[0]


def pinned_url(url: str, address: str) -> tuple[str, str]:
    """(the URL with its host replaced by `address`, the Host header the original URL implies)."""
    parts = urlsplit(url)
    literal = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    port = f":{parts.port}" if parts.port else ""
    host_header = (f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or "") + port
    userinfo = parts.netloc.rpartition("@")[0]  # credentials for the receiver, if the URL carries them
    netloc = (f"{userinfo}@" if userinfo else "") + literal + port
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), host_header
