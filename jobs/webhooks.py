"""Webhooks: a job's start, progress and completion POSTed to the URL its request named, signed, retried.

- A job-creating request may carry `"webhook": "<url>"` and `"webhook_events_filter": ["start", "progress",
  "completed"]` (default: all). The target host must be allowed by WEBHOOK_ALLOWED_HOSTS (comma list of host
  names, IP addresses or CIDR networks, each with an optional `:port` limiting it to that port; empty = no
  webhooks at all, loopback only when listed), checked
  when the job is created and again, on the resolved addresses, at every delivery (a name may be pointed
  elsewhere in between), which then connects to an address it checked (jobs/webhook_hosts.py).
- Deliveries follow the Standard Webhooks convention: headers `webhook-id`, `webhook-timestamp` (Unix
  seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` under the key of
  WEBHOOK_SECRET (`whsec_<base64>` or any string), then a second one under the job owner's own key (derived
  from it, GET /webhooks/secret); the body is `{"type": "job.<event>", "timestamp", "data":
  <the job's public record>}`.
- They are queued in Redis (a sorted set by due time) and sent by a thread in every worker process (never
  by a request thread): a delivery is claimed atomically with a lease, so exactly one worker sends it; a
  non-2xx answer or a network error is retried with exponential backoff (WEBHOOK_MAX_ATTEMPTS), and each
  attempt is recorded for GET /jobs/<id>/webhooks. Progress events are at most one per
  WEBHOOK_PROGRESS_SECONDS per job; start and completed are always sent. One job's deliveries go out in
  order: each waits until the job's earlier ones were delivered or given up (a progress event the job's
  end overtook is dropped, never sent late).

The parts: what a request asks (jobs/webhook_requests.py), the queue in Redis (jobs/webhook_queue.py), one
attempt's POST (jobs/webhook_post.py), its signatures (jobs/webhook_signing.py), where it may go
(jobs/webhook_hosts.py), the sender threads (jobs/webhook_sender.py) and their per-owner limit, held over every
worker process in Redis (jobs/webhook_owner_limit.py). The names callers use are all importable from here.
"""

from __future__ import annotations

from .webhook_owner_limit import TURN_LEASE_SECONDS, OwnerLimit
from .webhook_post import DELIVERY_TIMEOUT_SECONDS
from .webhook_queue import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_MAX_SECONDS,
    HISTORY_TTL_SECONDS,
    LEASE_SECONDS,
    ORDER_GAP_SECONDS,
    WebhookQueue,
)
from .webhook_requests import EVENTS, MAX_URL_CHARS, WebhookRequest, events_of, parse_request, validate_filter
from .webhook_sender import WebhookSender
from .webhook_signing import SECRET_FILE, secret_key, secret_text, sign, signatures, user_secret_text, verify

__all__ = [
    "BACKOFF_BASE_SECONDS", "BACKOFF_MAX_SECONDS", "DELIVERY_TIMEOUT_SECONDS", "EVENTS", "HISTORY_TTL_SECONDS",
    "LEASE_SECONDS", "MAX_URL_CHARS", "ORDER_GAP_SECONDS", "SECRET_FILE", "OwnerLimit", "TURN_LEASE_SECONDS",
    "WebhookQueue", "WebhookRequest", "WebhookSender", "events_of", "parse_request", "secret_key", "secret_text",
    "sign", "signatures", "user_secret_text", "validate_filter", "verify",
]
