"""A webhook delivery connects to the address the allow-list checked (jobs/webhook_hosts.py): a name that resolved
to an allowed network for the check and elsewhere for the connection (DNS rebinding) had reached the loopback."""

from __future__ import annotations

import ssl
import subprocess

import pytest
import redis as redis_lib
import requests

from jobs import webhook_hosts
from jobs.webhooks import WebhookQueue
from tests.test_api_contract import Receiver

NAME = "rebind.invalid"  # .invalid never resolves (RFC 6761): only the checked address can reach the receiver


@pytest.fixture()
def checked_lookups(monkeypatch) -> list[str]:
    """The allow-list's lookup answers 127.0.0.1 for NAME (the address a rebinding name shows the check); the
    system resolver, which a second lookup would ask, knows no such name."""
    asked: list[str] = []

    def lookup(host: str) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"] if host == NAME else []

    monkeypatch.setattr(webhook_hosts, "_resolve", lookup)
    return asked


def deliver(redis_url: str, url: str) -> tuple[int | None, str | None]:
    queue = WebhookQueue(redis_lib.Redis.from_url(redis_url), {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.0/8",
                                                                "WEBHOOK_SECRET": "test-secret"})
    with requests.Session() as session:
        return queue._post({"url": url, "body": "{}", "id": "delivery-1"}, session)


def test_a_delivery_goes_to_the_checked_address_and_names_the_host(redis_url, checked_lookups):
    receiver = Receiver()
    try:
        port = receiver.server.server_port
        assert deliver(redis_url, f"http://{NAME}:{port}/hook") == (200, None)
        (got,) = receiver.deliveries
        assert got["headers"]["host"] == f"{NAME}:{port}" and got["headers"]["webhook-id"] == "delivery-1"
        assert checked_lookups == [NAME]  # one lookup: the check's
        # a name the allow-list names itself is trusted to resolve: no pinning, the system resolver is asked
        assert webhook_hosts.pin_address(NAME, ["127.0.0.1"], {"WEBHOOK_ALLOWED_HOSTS": NAME}) is None
        assert webhook_hosts.pin_address("127.0.0.1", ["127.0.0.1"], {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.0/8"}) is None
    finally:
        receiver.close()


def test_over_tls_the_pinned_connection_still_presents_and_verifies_the_host_name(redis_url, checked_lookups,
                                                                                  tmp_path, monkeypatch):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={NAME}",
                    "-addext", f"subjectAltName=DNS:{NAME}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    receiver = Receiver()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the receiver's own certificate is the one trusted
    try:
        port = receiver.server.server_port
        assert deliver(redis_url, f"https://{NAME}:{port}/hook") == (200, None)
        assert names == [NAME] and receiver.deliveries[0]["headers"]["host"] == f"{NAME}:{port}"
        # a certificate for another name is refused, as it would be without the pinning
        other, other_key = tmp_path / "other.pem", tmp_path / "other-key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=elsewhere.invalid", "-keyout", str(other_key), "-out", str(other)],
                       check=True, capture_output=True)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
        code, error = deliver(redis_url, f"https://{NAME}:{port}/hook")
        assert code is None and error == "SSLError"
    finally:
        receiver.close()
