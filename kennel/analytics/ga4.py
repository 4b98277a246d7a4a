"""GA4 Measurement Protocol: one `purchase` event per confirmed deposit.

GA4 answers 2xx to nearly anything and silently drops what breaks its rules, so each payload
is checked here against the documented limits before it leaves; with GA4_VALIDATE it is also
checked by Google's own validation endpoint (/debug/mp/collect) first.
"""

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from kennel.analytics.http import post_json
from kennel.core.outbox import DeliveryRefused
from kennel.reservations.models import Reservation
from kennel.reservations.selectors import reservation_sold_at

# The documented limits of the Measurement Protocol (standard, not 360, properties).
NAME_MAX = 40
PARAMS_MAX = 25
VALUE_MAX = 100
EVENTS_MAX = 25
ITEM_CUSTOM_PARAMS_MAX = 10
BODY_MAX_BYTES = 130_000
BACKDATE_MAX = timedelta(hours=72)
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")
RESERVED_EVENT_NAMES = frozenset(
    {
        *("ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query"),
        *("ad_reward", "adunit_exposure", "app_background", "app_clear_data"),
        *("app_exception", "app_remove", "app_store_refund", "app_update", "app_upgrade"),
        *("error", "first_open", "first_visit", "in_app_purchase", "notification_dismiss"),
        *("notification_foreground", "notification_open", "notification_receive"),
        *("os_update", "session_start", "session_start_with_rollout", "user_engagement"),
    }
)
STANDARD_ITEM_PARAMS = frozenset(
    {
        *("item_id", "item_name", "affiliation", "coupon", "discount", "index"),
        *("item_brand", "item_category", "item_category2", "item_category3"),
        *("item_category4", "item_category5", "item_list_id", "item_list_name"),
        *("item_variant", "location_id", "price", "quantity", "promotion_id"),
        *("promotion_name", "creative_name", "creative_slot"),
    }
)


@dataclass(frozen=True)
class Ga4Config:
    measurement_id: str
    api_secret: str
    endpoint: str
    validate: bool

    @property
    def debug_endpoint(self) -> str:
        return self.endpoint.replace("/mp/collect", "/debug/mp/collect", 1)


def ga4_config() -> Ga4Config | None:
    """GA4's settings, or None while GA4_MEASUREMENT_ID or GA4_API_SECRET is empty (off)."""
    measurement_id = settings.GA4_MEASUREMENT_ID.strip()
    api_secret = settings.GA4_API_SECRET.strip()
    if not (measurement_id and api_secret):
        return None
    return Ga4Config(
        measurement_id=measurement_id,
        api_secret=api_secret,
        endpoint=settings.GA4_ENDPOINT.strip(),
        validate=settings.GA4_VALIDATE,
    )


def ga4_purchase_payload(reservation: Reservation) -> dict[str, Any]:
    """The Measurement Protocol body for a confirmed reservation (transaction_id = its id)."""
    puppy = reservation.puppy
    if puppy is None:  # a list deposit is reported when its family picks, not before
        raise ValueError(f"reservation {reservation.pk} has no puppy to report")
    value = float(reservation.deposit_amount)
    item = {
        "item_id": puppy.slug[:VALUE_MAX],
        "item_name": puppy.name[:VALUE_MAX],
        "item_category": puppy.breed[:VALUE_MAX],
        "item_variant": "deposit",
        "price": value,
        "quantity": 1,
    }
    payload: dict[str, Any] = {
        "client_id": reservation.ga_client_id or _fallback_client_id(reservation),
        # Only sent with the buyer's consent, which covers measuring, not ad personalisation.
        "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
        "events": [
            {
                "name": "purchase",
                "params": {
                    "transaction_id": str(reservation.pk),
                    "value": value,
                    "currency": reservation.currency.upper(),
                    "items": [item],
                },
            }
        ],
    }
    paid_at = reservation_sold_at(reservation)  # for a waiting list's family, the pick
    # GA4 accepts events backdated up to 72 hours; an older one is sent as "now" rather
    # than dropped (after a long outage the purchase still counts, on a later day).
    if paid_at and timezone.now() - paid_at < BACKDATE_MAX - timedelta(minutes=10):
        payload["timestamp_micros"] = int(paid_at.timestamp() * 1_000_000)
    return payload


def ga4_payload_problems(payload: dict[str, Any]) -> list[str]:
    """Every way `payload` breaks the Measurement Protocol's documented rules ([] when valid)."""
    problems: list[str] = []
    client_id = payload.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        problems.append("client_id: required, a non-empty string")
    events = payload.get("events")
    if not isinstance(events, list) or not events:
        return [*problems, "events: required, a non-empty list"]
    if len(events) > EVENTS_MAX:
        problems.append(f"events: {len(events)} events, at most {EVENTS_MAX} per request")
    for index, event in enumerate(events):
        problems.extend(_event_problems(f"events[{index}]", event))
    micros = payload.get("timestamp_micros")
    if micros is not None:
        now_micros = timezone.now().timestamp() * 1_000_000
        if not isinstance(micros, int) or micros > now_micros + 60_000_000:
            problems.append("timestamp_micros: must be an integer, not in the future")
        elif now_micros - micros > BACKDATE_MAX.total_seconds() * 1_000_000:
            problems.append("timestamp_micros: more than 72 hours in the past")
    size = len(json.dumps(payload).encode())
    if size >= BODY_MAX_BYTES:
        problems.append(f"body: {size} bytes, must be under {BODY_MAX_BYTES}")
    return problems


def _event_problems(where: str, event: Any) -> list[str]:
    if not isinstance(event, dict):
        return [f"{where}: must be an object"]
    problems = _name_problems(f"{where}.name", event.get("name"))
    if event.get("name") in RESERVED_EVENT_NAMES:
        problems.append(f"{where}.name: {event['name']!r} is reserved")
    params = event.get("params", {})
    if not isinstance(params, dict):
        return [*problems, f"{where}.params: must be an object"]
    if len(params) > PARAMS_MAX:
        problems.append(f"{where}.params: {len(params)} parameters, at most {PARAMS_MAX}")
    for name, value in params.items():
        problems.extend(_name_problems(f"{where}.params name", name))
        if name == "items":
            problems.extend(_items_problems(f"{where}.params.items", value))
        else:
            problems.extend(_value_problems(f"{where}.params.{name}", value))
    return problems


def _items_problems(where: str, items: Any) -> list[str]:
    if not isinstance(items, list):
        return [f"{where}: must be a list"]
    problems: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"{where}[{index}]: must be an object")
            continue
        if "item_id" not in item and "item_name" not in item:
            problems.append(f"{where}[{index}]: needs item_id or item_name")
        custom = [name for name in item if name not in STANDARD_ITEM_PARAMS]
        if len(custom) > ITEM_CUSTOM_PARAMS_MAX:
            problems.append(f"{where}[{index}]: at most {ITEM_CUSTOM_PARAMS_MAX} custom params")
        for name, value in item.items():
            problems.extend(_name_problems(f"{where}[{index}] name", name))
            problems.extend(_value_problems(f"{where}[{index}].{name}", value))
    return problems


def _name_problems(where: str, name: Any) -> list[str]:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        return [f"{where}: {name!r} must start with a letter; letters, digits, _ only"]
    if len(name) > NAME_MAX:
        return [f"{where}: {name!r} is longer than {NAME_MAX} characters"]
    if name.startswith(RESERVED_PREFIXES):
        return [f"{where}: {name!r} uses a reserved prefix"]
    return []


def _value_problems(where: str, value: Any) -> list[str]:
    if isinstance(value, str) and len(value) > VALUE_MAX:
        return [f"{where}: value longer than {VALUE_MAX} characters"]
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return [f"{where}: must be a string or a number"]
    return []


def ga4_send_purchase(*, reservation: Reservation) -> None:
    """Report a confirmed deposit to GA4. Raises DeliveryFailed / DeliveryRefused.

    Refuses (dead, never sent) without the buyer's consent, with GA4 off, or when the payload
    breaks the documented rules or Google's validation endpoint has anything to say.
    """
    config = ga4_config()
    if config is None:
        raise DeliveryRefused("GA4 is off: GA4_MEASUREMENT_ID and GA4_API_SECRET are not set")
    if not reservation.analytics_consent:
        raise DeliveryRefused("the buyer did not consent to analytics")
    payload = ga4_purchase_payload(reservation)
    problems = ga4_payload_problems(payload)
    if problems:
        raise DeliveryRefused("GA4 payload breaks the documented limits: " + "; ".join(problems))
    params = {"measurement_id": config.measurement_id, "api_secret": config.api_secret}
    if config.validate:
        if config.debug_endpoint == config.endpoint:
            raise DeliveryRefused(f"GA4_ENDPOINT {config.endpoint} has no /mp/collect to check")
        answer = post_json(
            config.debug_endpoint, body=payload, params=params, setting="GA4_ENDPOINT"
        )
        messages = _validation_messages(answer.text)
        if messages:
            raise DeliveryRefused(f"GA4 validation: {json.dumps(messages)[:1500]}")
    post_json(config.endpoint, body=payload, params=params, setting="GA4_ENDPOINT")


def _validation_messages(text: str) -> list[Any]:
    try:
        answer = json.loads(text or "{}")
    except ValueError:
        return [f"unreadable validation answer: {text[:200]!r}"]
    messages = answer.get("validationMessages", []) if isinstance(answer, dict) else []
    return list(messages) if isinstance(messages, list) else [messages]


def _fallback_client_id(reservation: Reservation) -> str:
    # Stable per reservation, in GA's "random.seconds" shape (holds from before capture).
    return f"{reservation.pk.int % (2**31 - 1) + 1}.{int(reservation.created_at.timestamp())}"
