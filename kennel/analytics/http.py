"""The one way analytics calls go out: httpx, explicit timeouts, failures sorted for retries."""

from typing import Any

import httpx
from django.conf import settings

from kennel.core.outbox import DeliveryFailed, DeliveryRefused

USER_AGENT = "Kennel/0.1 (server-side conversions)"
RETRYABLE_STATUSES = frozenset({408, 425, 429})


def post_json(
    url: str, *, body: dict[str, Any], params: dict[str, str] | None = None
) -> httpx.Response:
    """POST `body` as JSON. Raises DeliveryFailed (retry later) or DeliveryRefused (never).

    Error messages never contain the query string: it may hold an API secret.
    """
    seconds = settings.ANALYTICS_TIMEOUT_SECONDS
    timeout = httpx.Timeout(seconds, connect=min(seconds, 5.0))
    try:
        response = httpx.post(
            url, json=body, params=params, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )
    except httpx.TimeoutException as exc:
        raise DeliveryFailed(
            f"{url}: no answer within {seconds:g}s ({type(exc).__name__})"
        ) from exc
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if status >= 400:
        failure = (
            DeliveryFailed if status >= 500 or status in RETRYABLE_STATUSES else DeliveryRefused
        )
        body_text = response.text[:2000]
        raise failure(f"{url}: HTTP {status}: {body_text[:500]}", status=status, body=body_text)
    return response
