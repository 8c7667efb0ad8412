"""What a job-creating request asks of webhooks (`webhook`, `webhook_events_filter`), checked, and which
event a job's transition is. The rest of webhooks: jobs/webhooks.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from worker.errors import InvalidRequestError

from .webhook_hosts import check_host, url_host, url_port

EVENTS = ("start", "progress", "completed")
MAX_URL_CHARS = 2048


@dataclass(frozen=True)
class WebhookRequest:
    """What a job-creating request asked for (validated)."""

    url: str
    events: tuple[str, ...]


def parse_request(body: Mapping[str, Any], settings: Mapping[str, Any]) -> WebhookRequest | None:
    """The `webhook` / `webhook_events_filter` keys of a request body, checked (400), or None."""
    url = body.get("webhook")
    events = body.get("webhook_events_filter")
    if url is None:
        if events is not None:
            raise InvalidRequestError("webhook_events_filter needs a webhook", code="invalid_webhook")
        return None
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise InvalidRequestError("webhook must be an http(s) URL", code="invalid_webhook")
    host = url_host(url)  # the host the delivery will connect to, as the check reads it
    chosen = EVENTS if events is None else events
    if not isinstance(chosen, list | tuple) or not chosen or any(e not in EVENTS for e in chosen):
        raise InvalidRequestError(f"webhook_events_filter must list some of {', '.join(EVENTS)}",
                                  code="invalid_webhook", details={"valid": list(EVENTS)})
    check_host(host, url_port(url), settings, resolve=False)
    return WebhookRequest(url=url, events=tuple(e for e in EVENTS if e in chosen))


def events_of(job_state: str) -> Iterable[str]:
    """The webhook event a job transition to `job_state` is."""
    if job_state == "running":
        return ("start",)
    if job_state in ("succeeded", "failed", "canceled"):
        return ("completed",)
    return ()


def validate_filter(events: Sequence[str]) -> tuple[str, ...]:
    return tuple(e for e in EVENTS if e in events)
