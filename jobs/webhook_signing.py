"""Webhook signatures in the Standard Webhooks form: the key (WEBHOOK_SECRET, or one made once per data
directory), each user's own key derived from it, the signatures of a delivery, and the check a receiver makes."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SECRET_FILE = "webhook-secret"  # in DATA_DIR, when WEBHOOK_SECRET is not set
# What a user's key is derived for: HMAC-SHA256(shared key, USER_KEY_CONTEXT + user name). A separate context so the
# derived key is never a signature the shared key makes of some delivery.
USER_KEY_CONTEXT = b"music-analyzer webhook key of user\x00"


def secret_text(settings: Mapping[str, Any]) -> str:
    """WEBHOOK_SECRET, else the one made once in DATA_DIR/webhook-secret (0600) and shared by every process
    on this data directory: a receiver needs one stable key to verify with."""
    secret = str(settings.get("WEBHOOK_SECRET") or "")
    if secret:
        return secret
    path = Path(settings["DATA_DIR"]) / SECRET_FILE
    return _read(path) or _make(path)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def _make(path: Path) -> str:
    """Make the key once, whole: written beside and renamed into place, under a lock every process on this data
    directory takes, so none reads a file half made. It had been created empty and then written: another
    process reading in between, or a write that met a full disk or a kill, signed with an empty key, and an
    empty file left behind signed every later delivery so, without a word. Such a file is replaced here."""
    with open(path.with_name(f".{SECRET_FILE}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if existing := _read(path):  # made by another process while this one waited
            return existing
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secret + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return secret


def secret_key(settings: Mapping[str, Any]) -> bytes:
    """The HMAC key bytes (`whsec_<base64>` as Standard Webhooks libraries write it, or the text's bytes)."""
    return key_bytes(secret_text(settings))


def user_secret_text(settings: Mapping[str, Any], user: str) -> str:
    """The key `user`'s receivers verify with (`whsec_<base64>`, GET /webhooks/secret). With one shared key every
    user who was given it could sign a delivery another user's receiver would take for the service's; a user's own
    key is theirs alone. Derived, not stored: nothing to lose, back up or keep in step between workers, and
    rotating WEBHOOK_SECRET rotates every user's key with it."""
    digest = hmac.new(secret_key(settings), USER_KEY_CONTEXT + user.encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


def key_bytes(secret: str) -> bytes:
    """A key as Standard Webhooks libraries read it: `whsec_<base64>`, or the text's bytes."""
    return base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()


def signatures(settings: Mapping[str, Any], owner: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: the shared key's signature (receivers set up before users had keys verify
    with it) and, for a delivery with an owner, a second one under the owner's own key, space separated as the
    Standard Webhooks form allows; a receiver accepts a delivery when any of them is its key's."""
    header = sign(secret_key(settings), message_id, timestamp, body)
    if owner:
        header += " " + sign(key_bytes(user_secret_text(settings, owner)), message_id, timestamp, body)
    return header


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
