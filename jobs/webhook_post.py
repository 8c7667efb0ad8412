"""One webhook delivery attempt: the signed headers (Standard Webhooks, jobs/webhook_signing.py) and the POST
to a checked address (jobs/webhook_hosts.py), bounded in time. The rest of webhooks: jobs/webhooks.py."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from worker.errors import InvalidRequestError

from .webhook_hosts import check_host, pin_address, url_host, url_port
from .webhook_signing import signatures

DELIVERY_TIMEOUT_SECONDS = 10.0  # one attempt, all of it: connect, send, the answer's status and headers


def post(rec: Mapping[str, str], settings: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """One attempt: POST a delivery record's body, signed, to its URL (a checked address). Returns the answer's
    status (None without one) and the error to record (None for a 2xx)."""
    import requests  # with the delivery, not the app (jobs/webhook_deliver.py)

    from .webhook_deliver import deliver

    url = rec["url"]
    try:  # a delivery queued before url_host existed is read as the connection would read it, or not sent
        host = url_host(url)
        addresses = check_host(host, url_port(url), settings, resolve=True)
    except InvalidRequestError as e:
        return None, e.message
    pin = pin_address(host, url_port(url), addresses, settings)  # a checked address, never a second lookup
    body = rec["body"].encode()
    stamp = int(time.time())
    headers = {"content-type": "application/json", "user-agent": "music-analyzer-webhooks",
               "webhook-id": rec["id"], "webhook-timestamp": str(stamp),
               "webhook-signature": signatures(settings, rec.get("owner", ""), rec["id"], stamp, body)}
    try:
        # no redirects: a redirect could lead to a host the allow-list never saw
        code = deliver(url, pin, data=body, headers=headers, seconds=DELIVERY_TIMEOUT_SECONDS)
    except TimeoutError:
        return None, f"Timeout: no answer within {DELIVERY_TIMEOUT_SECONDS:g} s"
    except (requests.RequestException, OSError) as e:
        return None, f"{type(e).__name__}"
    if 200 <= code < 300:
        return code, None
    if 300 <= code < 400:  # requests calls a 3xx "ok": without these words the listing showed no error
        return code, f"HTTP {code}: redirects are not followed; give the webhook its final URL"
    return code, f"HTTP {code}"
