"""Meta Conversions API: one `Purchase` event per confirmed deposit.

Contact details leave only as SHA-256 of their normalised form, as Meta documents
(customer information parameters); the IP address, user agent and the _fbp/_fbc cookies go
unhashed, as Meta requires. `event_id` is the reservation id, which the buyer's status page
also shows, so a browser Pixel event and this one are counted once.
"""

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from kennel.analytics.http import post_json
from kennel.core.outbox import DeliveryFailed, DeliveryRefused
from kennel.reservations.models import Reservation
from kennel.reservations.selectors import reservation_sold_at

# Meta refuses a request any of whose events is more than 7 days old (server event parameters,
# event_time); an hour's margin for the time the request takes to get there.
EVENT_AGE_MAX = timedelta(days=7) - timedelta(hours=1)
# Graph API error codes Meta marks as temporary (unknown, service, rate limits).
TRANSIENT_ERROR_CODES = frozenset({1, 2, 4, 17, 341})


@dataclass(frozen=True)
class MetaConfig:
    pixel_id: str
    access_token: str
    endpoint: str
    api_version: str
    test_event_code: str

    @property
    def events_url(self) -> str:
        return f"{self.endpoint.rstrip('/')}/{self.api_version}/{self.pixel_id}/events"


def meta_config() -> MetaConfig | None:
    """Meta's settings, or None while META_PIXEL_ID or META_ACCESS_TOKEN is empty (off)."""
    pixel_id = settings.META_PIXEL_ID.strip()
    access_token = settings.META_ACCESS_TOKEN.strip()
    if not (pixel_id and access_token):
        return None
    return MetaConfig(
        pixel_id=pixel_id,
        access_token=access_token,
        endpoint=settings.META_ENDPOINT.strip(),
        api_version=settings.META_API_VERSION.strip(),
        test_event_code=settings.META_TEST_EVENT_CODE.strip(),
    )


# --- normalisation and hashing, as in Meta's "customer information parameters" ---


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalize_email(email: str) -> str:
    """Trim, lower-case."""
    return email.strip().lower()


def normalize_phone(phone: str, *, country_code: str = "") -> str:
    """Digits only, with the country code and no leading zeros.

    "+33 6 12…" and "0033 6 12…" carry their country code; a national number ("06 12…",
    "(650) 555-1212") gets `country_code` (PHONE_COUNTRY_CODE) in front when one is set.
    """
    raw = phone.strip().replace("(0)", "")  # "+44 (0)20…": the (0) is only dialled at home
    digits = "".join(c for c in raw if c.isascii() and c.isdigit())
    if raw.startswith("+"):
        return digits.lstrip("0")
    if digits.startswith("00"):
        return digits[2:].lstrip("0")
    national = digits.lstrip("0")
    cc = "".join(c for c in country_code if c.isdigit())
    return f"{cc}{national}" if cc and national else national


def normalize_name(name: str) -> str:
    """Lower-case letters only (UTF-8 accepted): no spaces, punctuation, digits or symbols."""
    composed = unicodedata.normalize("NFC", name.strip().lower())
    return "".join(c for c in composed if unicodedata.category(c)[0] in "LM")


def split_name(full_name: str) -> tuple[str, str]:
    """First and last name from the one name field: first word, last word."""
    words = full_name.split()
    if not words:
        return "", ""
    return words[0], (words[-1] if len(words) > 1 else "")


def hashed_user_data(reservation: Reservation) -> dict[str, list[str]]:
    """em, ph, fn, ln of the buyer: normalised, then SHA-256 (empty values left out)."""
    first, last = split_name(reservation.buyer_name)
    normalised = {
        "em": normalize_email(reservation.buyer_email),
        "ph": normalize_phone(reservation.buyer_phone, country_code=settings.PHONE_COUNTRY_CODE),
        "fn": normalize_name(first),
        "ln": normalize_name(last),
    }
    return {key: [sha256_hex(value)] for key, value in normalised.items() if value}


def meta_purchase_event(reservation: Reservation) -> dict[str, Any]:
    """The server event for a confirmed reservation (event_id = reservation id)."""
    user_data: dict[str, Any] = hashed_user_data(reservation)
    if reservation.client_ip:
        user_data["client_ip_address"] = reservation.client_ip
    if reservation.client_user_agent:
        user_data["client_user_agent"] = reservation.client_user_agent
    if reservation.fbp:
        user_data["fbp"] = reservation.fbp
    if reservation.fbc:
        user_data["fbc"] = reservation.fbc
    puppy = reservation.puppy
    if puppy is None:  # a list deposit is reported when its family picks, not before
        raise ValueError(f"reservation {reservation.pk} has no puppy to report")
    sold_at = reservation_sold_at(reservation) or reservation.updated_at
    now = timezone.now()
    # Older than Meta takes (a worker stopped for a week): sent as "now" rather than refused
    # and given up, as GA4's report is; the purchase still counts, on a later day.
    event_time = sold_at if now - EVENT_AGE_MAX < sold_at <= now else now
    source_url = reservation.event_source_url or (settings.SITE_URL + puppy.get_absolute_url())
    return {
        "event_name": "Purchase",
        "event_time": int(event_time.timestamp()),
        "event_id": str(reservation.pk),
        "action_source": "website",
        "event_source_url": source_url,
        "user_data": user_data,
        "custom_data": {
            "value": float(reservation.deposit_amount),
            "currency": reservation.currency.lower(),
            "content_ids": [puppy.slug],
            "content_type": "product",
            "order_id": str(reservation.pk),
        },
    }


def meta_send_purchase(*, reservation: Reservation) -> None:
    """Report a confirmed deposit to Meta. Raises DeliveryFailed / DeliveryRefused.

    Refuses (dead, never sent) without the buyer's consent or with Meta off.
    """
    config = meta_config()
    if config is None:
        raise DeliveryRefused("Meta is off: META_PIXEL_ID and META_ACCESS_TOKEN are not set")
    if not reservation.analytics_consent:
        raise DeliveryRefused("the buyer did not consent to analytics")
    # The token travels in the body, not the URL, so it stays out of proxy and error logs.
    body: dict[str, Any] = {
        "data": [meta_purchase_event(reservation)],
        "access_token": config.access_token,
    }
    if config.test_event_code:
        body["test_event_code"] = config.test_event_code
    try:
        post_json(config.events_url, body=body, setting="META_ENDPOINT")
    except DeliveryRefused as exc:
        if _is_transient(exc):
            raise DeliveryFailed(str(exc), status=exc.status, body=exc.body) from exc
        raise


def _is_transient(exc: DeliveryFailed) -> bool:
    """Meta marks some 4xx answers temporary (`is_transient`, rate-limit codes)."""
    try:
        error = json.loads(exc.body).get("error", {})
    except (ValueError, AttributeError):
        return False
    return bool(error.get("is_transient")) or error.get("code") in TRANSIENT_ERROR_CODES
