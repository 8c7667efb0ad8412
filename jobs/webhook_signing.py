"""Webhook signatures in the Standard Webhooks form: the key (WEBHOOK_SECRET, or one made once per data
directory), the signature of a delivery, and the check a receiver makes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SECRET_FILE = "webhook-secret"  # in DATA_DIR, when WEBHOOK_SECRET is not set


def secret_text(settings: Mapping[str, Any]) -> str:
    """WEBHOOK_SECRET, else the one made once in DATA_DIR/webhook-secret (0600) and shared by every process
    on this data directory: a receiver needs one stable key to verify with."""
    secret = str(settings.get("WEBHOOK_SECRET") or "")
    if secret:
        return secret
    path = Path(settings["DATA_DIR"]) / SECRET_FILE
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return path.read_text().strip()


def secret_key(settings: Mapping[str, Any]) -> bytes:
    """The HMAC key bytes (`whsec_<base64>` as Standard Webhooks libraries write it, or the text's bytes)."""
    secret = secret_text(settings)
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(key: bytes, headers: Mapping[str, str], body: bytes, *, tolerance_seconds: int = 300) -> bool:
    """What a receiver does (tests use it): the signature matches and the timestamp is recent."""
    message_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > tolerance_seconds:
        return False
    expected = sign(key, message_id, int(stamp), body)
    return any(hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split())
