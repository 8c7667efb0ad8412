"""What a webhook receiver needs: the check that a delivery came from the server (Standard Webhooks form).

    secret = MusicAnalyzer(url, user, password).webhook_secret()   # once; keep it with the receiver
    if not verify_webhook(secret, request.headers, request.get_data()):
        abort(401)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

TOLERANCE_SECONDS = 300  # a delivery older or newer than this is refused: a replayed one is stale


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes, *,
                   tolerance_seconds: int = TOLERANCE_SECONDS, now: float | None = None) -> bool:
    """Whether `body` with these headers was signed with `secret` (`whsec_<base64>`, as GET /webhooks/secret
    gives it, or an operator's WEBHOOK_SECRET text) within `tolerance_seconds` of `now`. Header names in any case;
    `body` is the raw request body, before any JSON parsing (re-serialised JSON does not verify)."""
    lower = {k.lower(): v for k, v in headers.items()}
    message_id, stamp = lower.get("webhook-id", ""), lower.get("webhook-timestamp", "")
    if not message_id or not stamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance_seconds:
        return False
    key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
    digest = hmac.new(key, f"{message_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    return any(hmac.compare_digest(expected, s) for s in lower.get("webhook-signature", "").split())
