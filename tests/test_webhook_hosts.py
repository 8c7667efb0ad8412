"""A webhook delivery connects to the address the allow-list checked (jobs/webhook_hosts.py): a name that resolved
to an allowed network for the check and elsewhere for the connection (DNS rebinding) had reached the loopback."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time

import pytest
import redis as redis_lib

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
    return queue._post({"url": url, "body": "{}", "id": "delivery-1"})


def test_a_delivery_goes_to_the_checked_address_and_names_the_host(redis_url, checked_lookups):
    receiver = Receiver()
    try:
        port = receiver.server.server_port
        assert deliver(redis_url, f"http://{NAME}:{port}/hook") == (200, None)
        (got,) = receiver.deliveries
        assert got["headers"]["host"] == f"{NAME}:{port}" and got["headers"]["webhook-id"] == "delivery-1"
        assert checked_lookups == [NAME]  # one lookup: the check's
        # a name the allow-list names itself is trusted to resolve: no pinning, the system resolver is asked
        assert webhook_hosts.pin_address(NAME, port, ["127.0.0.1"], {"WEBHOOK_ALLOWED_HOSTS": NAME}) is None
        networks = {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.0/8"}
        assert webhook_hosts.pin_address("127.0.0.1", port, ["127.0.0.1"], networks) is None
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


class Stubborn:
    """A receiver on a real socket that answers 200 and then either sends one byte a second of a 1000-byte body
    (trickle), or a body of 2 GB as fast as it can (flood), or sends its headers one byte a second (slow)."""

    def __init__(self, mode: str):
        self.mode = mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sent = 0
        self.closed = threading.Event()  # the pacing below waits on it: a closed receiver stops at once
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(30)
            try:
                conn.recv(65536)
                if self.mode == "slow":
                    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                        conn.sendall(bytes([byte]))
                        if self.closed.wait(0.5):  # a byte every half second, until the test is done
                            return
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " + (b"1000" if self.mode == "trickle"
                                                                       else b"2000000000") + b"\r\n\r\n")
                chunk = b"x" if self.mode == "trickle" else b"x" * (1 << 20)
                for _ in range(1000 if self.mode == "trickle" else 2000):
                    conn.sendall(chunk)
                    self.sent += len(chunk)
                    if self.mode == "trickle" and self.closed.wait(1.0):  # a byte a second
                        return
            except OSError:  # the sender hung up: what it should do
                pass

    def close(self) -> None:
        self.closed.set()
        self.listener.close()


@pytest.mark.parametrize("mode", ["trickle", "flood", "slow"])
def test_a_delivery_is_bounded_in_time_and_never_reads_the_answers_body(redis_url, mode, monkeypatch):
    """A stranger's receivers: one answered 200 and then sent a byte a second, and held a sender for 1000 s (the
    10 s timeout bounded each read, not the delivery); one sent 2 GB after its 200 and took a worker's main
    process to 4 GB, 1.5 GB of it never freed (the body was read whole). The status is what counts: the body is
    never read, and the whole delivery has DELIVERY_TIMEOUT_SECONDS (2 s here)."""
    from jobs import webhook_post

    monkeypatch.setattr(webhook_post, "DELIVERY_TIMEOUT_SECONDS", 2.0)  # where the attempt reads it
    receiver = Stubborn(mode)
    try:
        t0 = time.monotonic()
        code, error = deliver(redis_url, f"http://127.0.0.1:{receiver.port}/hook")
        took = time.monotonic() - t0
        assert took < 4.0, took
        if mode == "slow":  # headers that never end: no status, a timeout
            assert code is None and error == "Timeout: no answer within 2 s", error
        else:
            assert (code, error) == (200, None)
        receiver.thread.join(timeout=10)
        assert receiver.sent < 64 << 20  # the sender hung up long before 2 GB
    finally:
        receiver.close()


def backslash_url(port: int) -> str:
    """Read by urlsplit (the allow-list's check) as a URL of the allowed 127.0.0.1; by requests (the connection) as
    one of 127.0.0.2, which the allow-list never named."""
    return f"http://127.0.0.2:{port}\\@127.0.0.1/hook"


def test_a_url_that_the_check_and_the_connection_read_differently_is_refused(client, session_id):
    """A stranger's `http://10.0.0.5:6379\\@hooks.example.net/`: the request's check saw the allowed host after the
    backslash, and requests connected to the one before it. The request is 400, before any 404 of its file."""
    r = client.post(f"/process/features/{session_id}", json={"file": "none.wav", "webhook": backslash_url(18655)})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_webhook", r.text
    for url in ("http://bücher.example/hook", "http://127.0.0.1/a b", "http://127.0.0.1:80\\@127.0.0.1/"):
        r = client.post(f"/process/features/{session_id}", json={"file": "none.wav", "webhook": url})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_webhook", (url, r.text)


def test_a_queued_delivery_to_such_a_url_is_not_sent(redis_url):
    """A delivery queued before the check (an older version's) reaches no host the allow-list did not name."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            got.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    elsewhere = ThreadingHTTPServer(("127.0.0.2", 0), Handler)  # loopback, but not the allowed 127.0.0.1
    threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
    try:
        queue = WebhookQueue(redis_lib.Redis.from_url(redis_url), {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
                                                                    "WEBHOOK_SECRET": "test-secret"})
        code, error = queue._post({"url": backslash_url(elsewhere.server_port), "body": "{}", "id": "delivery-2"})
        assert code is None and error is not None and "backslash" in error, (code, error)
        assert got == []
    finally:
        elsewhere.shutdown()
        elsewhere.server_close()


def test_an_allowed_host_with_a_port_allows_that_port_only(redis_url):
    """A stranger allowed `127.0.0.1` for one local receiver, and webhooks could then reach every loopback port (a
    password-less valkey among them). `127.0.0.1:<port>` now allows that port alone; a bare host, every port."""
    from config import SettingsError, load_settings
    from jobs.webhooks import parse_request
    from worker.errors import InvalidRequestError

    allowed, other = Receiver(), Receiver()  # two ports of one loopback address
    try:
        a, b = allowed.server.server_port, other.server.server_port
        settings = {"WEBHOOK_ALLOWED_HOSTS": f"127.0.0.1:{a}", "WEBHOOK_SECRET": "test-secret"}
        queue = WebhookQueue(redis_lib.Redis.from_url(redis_url), settings)
        assert queue._post({"url": f"http://127.0.0.1:{a}/hook", "body": "{}", "id": "d-a"}) == (200, None)
        code, error = queue._post({"url": f"http://127.0.0.1:{b}/hook", "body": "{}", "id": "d-b"})
        assert code is None and f"port {b} is not allowed" in (error or ""), error
        assert len(allowed.deliveries) == 1 and other.deliveries == []  # nothing reached the other port
        assert parse_request({"webhook": f"http://127.0.0.1:{a}/x"}, settings) is not None  # the request's check
        with pytest.raises(InvalidRequestError) as refused:
            parse_request({"webhook": f"http://127.0.0.1:{b}/x"}, settings)
        assert refused.value.code == "webhook_not_allowed" and refused.value.details == {"host": "127.0.0.1",
                                                                                         "port": b}
        # a bare host keeps allowing every port, as before
        bare = WebhookQueue(redis_lib.Redis.from_url(redis_url), {**settings, "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"})
        assert bare._post({"url": f"http://127.0.0.1:{b}/hook", "body": "{}", "id": "d-c"}) == (200, None)
        assert len(other.deliveries) == 1
    finally:
        allowed.close()
        other.close()
    check = webhook_hosts.check_host
    six = {"WEBHOOK_ALLOWED_HOSTS": "[::1]:9000, hooks.example.net:443, 10.0.0.0/8"}
    assert check("::1", 9000, six, resolve=False) == ["::1"]
    assert check("hooks.example.net", webhook_hosts.url_port("https://hooks.example.net/h"), six, resolve=False)
    assert check("10.1.2.3", 6379, six, resolve=False) == ["10.1.2.3"]  # a bare network: any port
    for host, port in (("::1", 9001), ("hooks.example.net", 80)):
        with pytest.raises(InvalidRequestError):
            check(host, port, six, resolve=False)
    with pytest.raises(SettingsError, match="WEBHOOK_ALLOWED_HOSTS: '127.0.0.1:99999'"):  # named at start
        load_settings({"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1:99999"}, dotenv=False)
    assert load_settings({"WEBHOOK_ALLOWED_HOSTS": "::1,fe80::/10"}, dotenv=False)  # bare IPv6: no port read
