"""The one way analytics calls go out: httpx, explicit timeouts, failures sorted for retries."""

from typing import Any

import httpx
from django.conf import settings

from kennel.core.outbox import DeliveryFailed, DeliveryRefused

USER_AGENT = "Kennel/0.1 (server-side conversions)"
RETRYABLE_STATUSES = frozenset({408, 425, 429})


def post_json(
    url: str, *, body: dict[str, Any], setting: str, params: dict[str, str] | None = None
) -> httpx.Response:
    """POST `body` as JSON to `url` (read from the setting named `setting`). Raises
    DeliveryFailed (retry later) or DeliveryRefused (never).

    Error messages never contain the query string, nor a redirect's target or body: they
    may hold an API secret.
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
    if 300 <= status < 400:
        # Redirects are not followed (the body would go, with its secrets, wherever the
        # answer points), so nothing arrived: a wrong address, e.g. http:// for https://.
        raise DeliveryRefused(
            f"{url}: HTTP {status}: the endpoint redirects elsewhere and nothing was "
            f"delivered; set {setting} to the address it answers on",
            status=status,
        )
    if status >= 400:
        failure = (
            DeliveryFailed if status >= 500 or status in RETRYABLE_STATUSES else DeliveryRefused
        )
        body_text = response.text[:2000]
        raise failure(f"{url}: HTTP {status}: {body_text[:500]}", status=status, body=body_text)
    return response
