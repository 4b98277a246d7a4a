"""The only module that imports `stripe`. SDK errors become ProviderError/ProviderUnavailable."""

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import quote

import stripe
from django.conf import settings

from kennel.payments.providers import (
    ProviderError,
    ProviderUnavailable,
    WebhookRejected,
    parse_event,
)

SignatureError = stripe.SignatureVerificationError


@functools.lru_cache(maxsize=4)
def _client(api_key: str, api_base: str, timeout: float) -> stripe.StripeClient:
    base = {"api": api_base} if api_base else None
    return stripe.StripeClient(
        api_key,
        base_addresses=base,  # type: ignore[arg-type]
        http_client=stripe.RequestsClient(timeout=timeout),
        max_network_retries=2,  # safe: every POST we make carries an idempotency key
    )


def get_client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise ProviderUnavailable("Stripe is not configured (STRIPE_SECRET_KEY is empty)")
    return _client(
        settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, settings.PROVIDER_TIMEOUT_SECONDS
    )


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn the SDK's exceptions into ours: retryable or not."""
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise ProviderUnavailable(str(exc.user_message or exc), code="connection") from exc
    except stripe.APIError as exc:
        raise ProviderUnavailable(
            str(exc.user_message or exc), code="api_error", status=exc.http_status
        ) from exc
    except stripe.StripeError as exc:
        status = exc.http_status
        if status is not None and status >= 500:
            raise ProviderUnavailable(str(exc), code=exc.code or "", status=status) from exc
        raise ProviderError(
            str(exc.user_message or exc), code=exc.code or "", status=status
        ) from exc


def call(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    with translated_errors():
        return fn(*args, **kwargs)


def to_dict(obj: Any) -> dict[str, Any]:
    """A plain dict of a StripeObject (nested objects included)."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def create_checkout_session(params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
    session = call(
        get_client().v1.checkout.sessions.create,
        params=params,
        options={"idempotency_key": idempotency_key},
    )
    return to_dict(session)


def retrieve_checkout_session(session_id: str) -> dict[str, Any]:
    """The session with its payment intent, as the API's JSON. Every paid checkout's webhook
    job reads one: read raw, it skips building the SDK's objects only to turn them back into
    a dict, a third of the read's CPU in the worker (bench/HISTORY.md). Errors are the
    SDK's own, as for every other call."""
    response = call(
        get_client().raw_request,
        "get",
        f"/v1/checkout/sessions/{quote(session_id, safe='')}",
        expand=["payment_intent"],
    )
    return cast(dict[str, Any], response.data)


def expire_checkout_session(session_id: str) -> dict[str, Any]:
    return to_dict(call(get_client().v1.checkout.sessions.expire, session_id))


def retrieve_payment_intent(payment_intent_id: str) -> dict[str, Any]:
    intent = call(
        get_client().v1.payment_intents.retrieve,
        payment_intent_id,
        params={"expand": ["latest_charge"]},
    )
    return to_dict(intent)


def create_refund(params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
    refund = call(
        get_client().v1.refunds.create, params=params, options={"idempotency_key": idempotency_key}
    )
    return to_dict(refund)


def list_refunds(payment_intent_id: str) -> list[dict[str, Any]]:
    """Every refund of a payment (a deposit is refunded a few times at most: one page)."""
    page = call(
        get_client().v1.refunds.list, params={"payment_intent": payment_intent_id, "limit": 100}
    )
    return [to_dict(refund) for refund in page.data]


def construct_event(body: bytes, signature_header: str) -> dict[str, Any]:
    """Verify `Stripe-Signature` (HMAC-SHA256, timestamp tolerance) and parse the event."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise WebhookRejected("not_configured", "STRIPE_WEBHOOK_SECRET is not set")
    if not signature_header:
        raise WebhookRejected("missing_signature")
    try:
        payload = body.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            payload,
            signature_header,
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
        )
    except stripe.SignatureVerificationError as exc:
        reason = "stale_timestamp" if "tolerance" in str(exc) else "bad_signature"
        raise WebhookRejected(reason) from exc
    except ValueError as exc:  # a body that is not UTF-8
        raise WebhookRejected("malformed_body") from exc
    return parse_event(payload)
