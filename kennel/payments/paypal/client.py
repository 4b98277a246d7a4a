"""The only module that imports the PayPal SDK (`paypalserversdk`, Orders v2 + Payments v2).

SDK errors become ProviderError / ProviderUnavailable.  Every POST carries a PayPal-Request-Id
chosen by the caller: the SDK neither adds one nor retries a POST, so this module retries a
POST itself when the network failed — with the same id, which PayPal answers with the first
result instead of acting twice.  The webhook-signature postback is not in the SDK; it is made
here with httpx and the SDK's own OAuth token.
"""

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import requests
from apimatic_core.exceptions.auth_validation_exception import AuthValidationException
from django.conf import settings
from paypalserversdk.configuration import Configuration, Server
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.exceptions.error_exception import ErrorException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
from paypalserversdk.models.checkout_payment_intent import CheckoutPaymentIntent
from paypalserversdk.models.money import Money
from paypalserversdk.models.order_request import OrderRequest
from paypalserversdk.models.payment_source import PaymentSource
from paypalserversdk.models.paypal_wallet import PaypalWallet
from paypalserversdk.models.paypal_wallet_experience_context import (
    PaypalWalletExperienceContext,
)
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from kennel.payments.providers import ProviderError, ProviderUnavailable

LIVE_API_BASE = "https://api-m.paypal.com"
POST_ATTEMPTS = 3  # a POST whose answer was lost is sent again, with the same request id
REPRESENTATION = "return=representation"  # full orders back, so no second GET is needed


class _Configuration(Configuration):
    """The SDK's configuration with our base URL (it knows only PayPal's two hosts).

    Built directly: `Configuration.from_environment()` goes through `clone_with()`, which
    makes a plain Configuration and so would drop this override.
    """

    def __init__(self, *, base_uri: str, **kwargs: Any) -> None:
        self._kennel_base_uri = base_uri.rstrip("/")
        super().__init__(**kwargs)

    def get_base_uri(self, server: Server = Server.DEFAULT) -> str:
        return self._kennel_base_uri


@dataclass
class _Api:
    sdk: PaypalServersdkClient
    base: str
    timeout: float
    token: Any = None  # the SDK's current OAuthToken, kept for the postback


@functools.lru_cache(maxsize=4)
def _api(client_id: str, client_secret: str, base: str, timeout: float) -> _Api:
    api = _Api(sdk=None, base=base.rstrip("/"), timeout=timeout)

    def token_provider(last: Any, auth: Any) -> Any:
        # Without a provider the SDK swallows a failed token request and reports only
        # "OAuthToken is undefined"; asking for the token here lets its real error through.
        if last is not None and not auth.is_token_expired(last):
            return last
        api.token = auth.fetch_token()
        return api.token

    credentials = ClientCredentialsAuthCredentials(
        o_auth_client_id=client_id,
        o_auth_client_secret=client_secret,
        o_auth_token_provider=token_provider,
    )
    config = _Configuration(
        base_uri=base,
        timeout=timeout,
        max_retries=2,
        backoff_factor=0.5,
        # Reads are retried on 5xx/429 and network errors. A POST is not (urllib3 only redoes
        # a connection that was never made): `_post` re-sends it with its request id.
        retry_methods=["GET"],
        client_credentials_auth_credentials=credentials,
    )
    api.sdk = PaypalServersdkClient(config=config)
    return api


def get_api() -> _Api:
    if not settings.PAYPAL_CLIENT_ID or not settings.PAYPAL_CLIENT_SECRET:
        raise ProviderUnavailable("PayPal is not configured (PAYPAL_CLIENT_ID/SECRET are empty)")
    return _api(
        settings.PAYPAL_CLIENT_ID,
        settings.PAYPAL_CLIENT_SECRET,
        settings.PAYPAL_API_BASE or LIVE_API_BASE,
        settings.PROVIDER_TIMEOUT_SECONDS,
    )


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn the SDK's (and httpx's) exceptions into ours: retryable or not."""
    try:
        yield
    except (requests.Timeout, httpx.TimeoutException) as exc:
        raise ProviderUnavailable(f"PayPal did not answer in time: {exc}", code="timeout") from exc
    except (requests.RequestException, httpx.TransportError) as exc:
        raise ProviderUnavailable(f"PayPal could not be reached: {exc}", code="connection") from exc
    except ApiException as exc:
        raise _from_api_exception(exc) from exc
    except AuthValidationException as exc:
        raise ProviderError(str(exc), code="authentication_failed") from exc


def _from_api_exception(exc: ApiException) -> ProviderError:
    status = int(exc.response_code)
    code, message = _error_code(exc)
    if status >= 500 or status == 429:
        return ProviderUnavailable(message, code=code, status=status)
    return ProviderError(message, code=code, status=status)


def _error_code(exc: ApiException) -> tuple[str, str]:
    """The most specific code PayPal gave: a detail's `issue`, else `name`, else `error`."""
    details = getattr(exc, "details", None) if isinstance(exc, ErrorException) else None
    issue = getattr(details[0], "issue", None) if details else None
    name = getattr(exc, "name", None)
    message = str(getattr(exc, "message", None) or exc.reason)
    if issue or name:
        return str(issue or name), message
    try:
        body = json.loads(exc.response.text or "{}")
    except ValueError:
        body = {}
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"]), str(body.get("error_description") or message)
    return "", message


def _body(response: Any) -> dict[str, Any]:
    try:
        body = json.loads(response.text)
    except (TypeError, ValueError) as exc:
        raise ProviderUnavailable("PayPal answered with something other than JSON") from exc
    if not isinstance(body, dict):
        raise ProviderUnavailable("PayPal answered with something other than a JSON object")
    return body


def _get(call: Callable[[dict[str, Any]], Any], options: dict[str, Any]) -> dict[str, Any]:
    with translated_errors():
        return _body(call(options))


def _post(call: Callable[[dict[str, Any]], Any], options: dict[str, Any]) -> dict[str, Any]:
    """POST with its PayPal-Request-Id; re-sent with the same id when the network failed."""
    assert options.get("paypal_request_id"), "every PayPal POST carries a PayPal-Request-Id"
    for attempt in range(1, POST_ATTEMPTS + 1):
        try:
            with translated_errors():
                return _body(call(options))
        except ProviderUnavailable as exc:
            if exc.code not in ("timeout", "connection") or attempt == POST_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class NewOrder:
    """What Kennel asks PayPal for: one purchase unit paying one reservation's deposit."""

    reservation_id: str
    currency: str
    value: str  # a decimal string, as PayPal wants it ("300.00")
    description: str
    return_url: str
    cancel_url: str
    brand_name: str


def create_order(order: NewOrder, *, request_id: str) -> dict[str, Any]:
    body = OrderRequest(
        intent=CheckoutPaymentIntent.CAPTURE,
        purchase_units=[
            PurchaseUnitRequest(
                amount=AmountWithBreakdown(currency_code=order.currency, value=order.value),
                description=order.description[:127],
                custom_id=order.reservation_id,
                invoice_id=order.reservation_id,
            )
        ],
        payment_source=PaymentSource(
            paypal=PaypalWallet(
                experience_context=PaypalWalletExperienceContext(
                    brand_name=order.brand_name[:127],
                    shipping_preference="NO_SHIPPING",
                    user_action="PAY_NOW",
                    return_url=order.return_url,
                    cancel_url=order.cancel_url,
                )
            )
        ),
    )
    sdk = get_api().sdk
    return _post(
        sdk.orders.create_order,
        {"body": body, "paypal_request_id": request_id, "prefer": REPRESENTATION},
    )


def get_order(order_id: str) -> dict[str, Any]:
    return _get(get_api().sdk.orders.get_order, {"id": order_id})


def capture_order(order_id: str, *, request_id: str) -> dict[str, Any]:
    sdk = get_api().sdk
    return _post(
        sdk.orders.capture_order,
        {"id": order_id, "paypal_request_id": request_id, "prefer": REPRESENTATION},
    )


def get_capture(capture_id: str) -> dict[str, Any]:
    return _get(get_api().sdk.payments.get_captured_payment, {"capture_id": capture_id})


def get_refund(refund_id: str) -> dict[str, Any]:
    return _get(get_api().sdk.payments.get_refund, {"refund_id": refund_id})


def refund_capture(
    capture_id: str, *, currency: str, value: str, request_id: str
) -> dict[str, Any]:
    """Refund (part of) a capture. The refund carries `request_id` as its custom_id too, so
    whoever reads it later (a webhook) knows it for Kennel's own."""
    sdk = get_api().sdk
    return _post(
        sdk.payments.refund_captured_payment,
        {
            "capture_id": capture_id,
            "paypal_request_id": request_id,
            "body": RefundRequest(
                amount=Money(currency_code=currency, value=value), custom_id=request_id
            ),
        },
    )


def verify_webhook_signature(fields: dict[str, str], raw_event: str) -> bool:
    """Ask PayPal whether a delivery is genuine (`/v1/notifications/verify-webhook-signature`).

    The event goes back byte for byte as it arrived: PayPal checks the CRC of what it is
    sent, and a re-serialised event (other spacing, key order, escapes) would fail.
    """
    api = get_api()
    with translated_errors():
        if not api.sdk.oauth_2.is_valid() or api.token is None:
            raise ProviderError("PayPal gave no access token", code="authentication_failed")
        content = json.dumps(fields)[:-1] + f', "webhook_event": {raw_event}}}'
        response = httpx.post(
            f"{api.base}/v1/notifications/verify-webhook-signature",
            content=content.encode("utf-8"),
            headers={
                "Authorization": f"Bearer {api.token.access_token}",
                "Content-Type": "application/json",
            },
            timeout=api.timeout,
        )
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderUnavailable(
            "PayPal could not verify the webhook", status=response.status_code
        )
    if response.status_code >= 400:
        raise ProviderError(
            f"PayPal refused the verification request: {response.text[:300]}",
            status=response.status_code,
        )
    return _body(response).get("verification_status") == "SUCCESS"
