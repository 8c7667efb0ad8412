"""Webhooks from the client's side: asking for them on a job-creating request (`webhook=`, `webhook_events=`;
`--webhook URL [--webhook-events start,completed]` on the commands that start jobs), and what a receiver needs:
the check that a delivery came from the server (Standard Webhooks form).

    secret = MusicAnalyzer(url, user, password).webhook_secret()   # once; keep it with the receiver
    if not verify_webhook(secret, request.headers, request.get_data()):
        abort(401)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import MusicAnalyzerError, UsageError

EVENTS = ("start", "progress", "completed")  # the server's webhook events (its `webhook_events_filter` values)
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


def webhook_keys(webhook: str | None, events: Sequence[str] | None) -> dict[str, Any]:
    """The body keys of a job-creating request asking for a webhook (`webhook`, `webhook_events_filter`); none for
    no webhook. Events without a URL are refused here, as the server would refuse them (400 invalid_webhook)."""
    if webhook is None:
        if events is not None:
            raise UsageError("webhook events need a webhook URL (--webhook URL)", code="invalid_webhook")
        return {}
    return {"webhook": webhook, **({"webhook_events_filter": list(events)} if events is not None else {})}


def events_argument(text: str) -> list[str]:
    """`--webhook-events start,completed`: a comma list of EVENTS (argparse's type: a wrong name is exit 2 before
    any request, where the server would refuse it only after the files were uploaded)."""
    chosen = [e.strip() for e in text.split(",") if e.strip()]
    unknown = [e for e in chosen if e not in EVENTS]
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown) or repr(text)}: not webhook events; give a comma "
                                         f"list of {', '.join(EVENTS)}")
    return chosen


def add_webhook_flags(parser: argparse.ArgumentParser) -> None:
    """`--webhook URL` and `--webhook-events LIST` on a command that starts jobs (every job it starts)."""
    parser.add_argument("--webhook", metavar="URL",
                        help="POST each job's start, progress and end to URL, signed (the server's "
                             "WEBHOOK_ALLOWED_HOSTS must allow its host; `webhook-secret` prints your key)")
    parser.add_argument("--webhook-events", type=events_argument, metavar="LIST",
                        help=f"with --webhook: only these events, a comma list of {', '.join(EVENTS)} "
                             "(default all)")


def webhook_args(args: argparse.Namespace) -> dict[str, Any]:
    """The `webhook=`, `webhook_events=` keywords of the client's methods from a command's flags (checked)."""
    url, events = getattr(args, "webhook", None), getattr(args, "webhook_events", None)
    webhook_keys(url, events)  # --webhook-events alone: exit 2 before any request
    return {"webhook": url, "webhook_events": events}


def check_with_server(client: Any, hook: dict[str, Any]) -> None:
    """A --webhook URL (`hook`: webhook_args') asked of the server (POST /webhooks/check) before anything is
    uploaded: a URL it refuses raises its 400 here, where a run had uploaded its files and then had every job
    refused. A server too old to have the route (404, 405) is not asked: its jobs' requests check the URL as before."""
    if hook["webhook"] is None:
        return
    try:
        client.check_webhook(hook["webhook"], hook["webhook_events"])
    except MusicAnalyzerError as e:
        if e.status not in (404, 405):
            raise
