"""GA4 Measurement Protocol: the purchase payload, checked against the documented limits before it
leaves, and against Google's validation endpoint when GA4_VALIDATE is on."""

import copy
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from kennel.analytics.ga4 import ga4_payload_problems, ga4_purchase_payload, ga4_send_purchase
from kennel.catalogue.models import Puppy
from kennel.core.outbox import DeliveryRefused
from kennel.reservations.models import Reservation
from kennel.reservations.tracking import ga_client_id


def _reservation(**changes) -> Reservation:
    """An unsaved confirmed reservation: the payload needs no database."""
    puppy = Puppy(
        slug=changes.pop("slug", "bella"),
        name=changes.pop("name", "Bella"),
        breed=changes.pop("breed", "Golden Retriever"),
        price=Decimal("2000.00"),
        currency="EUR",
    )
    fields = {
        "puppy": puppy,
        "buyer_name": "Jane Doe",
        "buyer_email": "jane.doe@example.com",
        "buyer_phone": "+33 6 12 34 56 78",
        "deposit_amount": Decimal("400.00"),
        "currency": "EUR",
        "provider": "stripe",
        "status": "confirmed",
        "confirmed_at": timezone.now() - timedelta(minutes=5),
        "analytics_consent": True,
        "ga_client_id": "1234567890.1700000000",
    }
    fields.update(changes)
    return Reservation(**fields)


def test_the_purchase_event_carries_the_reservation_the_deposit_and_the_buyers_client_id():
    reservation = _reservation()

    payload = ga4_purchase_payload(reservation)

    assert payload["client_id"] == "1234567890.1700000000"
    assert payload["timestamp_micros"] == int(reservation.confirmed_at.timestamp() * 1_000_000)
    [event] = payload["events"]
    assert event["name"] == "purchase"
    assert event["params"] == {
        "transaction_id": str(reservation.pk),
        "value": 400.0,
        "currency": "EUR",
        "items": [
            {
                "item_id": "bella",
                "item_name": "Bella",
                "item_category": "Golden Retriever",
                "item_variant": "deposit",
                "price": 400.0,
                "quantity": 1,
            }
        ],
    }
    assert ga4_payload_problems(payload) == []


def test_a_purchase_older_than_ga4_accepts_is_sent_without_its_timestamp():
    payload = ga4_purchase_payload(_reservation(confirmed_at=timezone.now() - timedelta(days=4)))

    assert "timestamp_micros" not in payload
    assert ga4_payload_problems(payload) == []


def _mutated(change) -> dict:
    payload = copy.deepcopy(ga4_purchase_payload(_reservation()))
    change(payload)
    return payload


def _event(payload: dict) -> dict:
    return payload["events"][0]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda p: _event(p).update(name="p" * 41), "longer than 40 characters"),
        (lambda p: _event(p).update(name="2fast"), "must start with a letter"),
        (lambda p: _event(p).update(name="session_start"), "is reserved"),
        (lambda p: _event(p).update(name="google_purchase"), "reserved prefix"),
        (lambda p: _event(p)["params"].update({"x" * 41: 1}), "longer than 40 characters"),
        (lambda p: _event(p)["params"].update({"ga_thing": 1}), "reserved prefix"),
        (lambda p: _event(p)["params"].update({"bad-name": 1}), "letters, digits, _ only"),
        (lambda p: _event(p)["params"].update(coupon="c" * 101), "longer than 100 characters"),
        (
            lambda p: _event(p)["params"].update({f"p{i}": i for i in range(22)}),
            "at most 25",
        ),
        (
            lambda p: _event(p)["params"]["items"][0].update(item_name="n" * 101),
            "longer than 100 characters",
        ),
        (
            lambda p: _event(p)["params"]["items"][0].update({f"c{i}": "x" for i in range(11)}),
            "at most 10 custom params",
        ),
        (lambda p: _event(p)["params"].update(nested={"a": 1}), "a string or a number"),
        (lambda p: p.update(events=[_event(p)] * 26), "at most 25 per request"),
        (lambda p: p.update(client_id=""), "client_id"),
        (lambda p: p.update(events=[]), "events: required"),
        (
            lambda p: p.update(
                timestamp_micros=int((timezone.now().timestamp() - 73 * 3600) * 1e6)
            ),
            "72 hours",
        ),
        (
            lambda p: _event(p)["params"].update(
                items=[{"item_id": "i" * 100, "item_name": "n" * 100}] * 700
            ),
            "must be under 130000",
        ),
    ],
)
def test_payloads_breaking_the_documented_limits_are_caught(change, problem):
    problems = ga4_payload_problems(_mutated(change))

    assert any(problem in p for p in problems), problems


@hypothesis_settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    name=st.text(min_size=1, max_size=80),
    breed=st.text(min_size=1, max_size=80),
    slug=st.from_regex(r"[-a-z0-9_]{1,80}", fullmatch=True),
    deposit=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2),
)
def test_every_puppy_and_deposit_makes_a_payload_within_the_limits(name, breed, slug, deposit):
    reservation = _reservation(name=name, breed=breed, slug=slug, deposit_amount=deposit)

    assert ga4_payload_problems(ga4_purchase_payload(reservation)) == []


def test_with_validation_on_a_payload_google_finds_fault_with_is_refused_and_not_sent(
    ga4_endpoint, settings
):
    settings.GA4_VALIDATE = True
    ga4_endpoint.answer = lambda path, body: (
        (200, {"validationMessages": [{"fieldPath": "events", "validationCode": "NAME_INVALID"}]})
        if path == "/debug/mp/collect"
        else (204, {})
    )

    with pytest.raises(DeliveryRefused, match="NAME_INVALID"):
        ga4_send_purchase(reservation=_reservation())

    assert [h.path for h in ga4_endpoint.hits] == ["/debug/mp/collect"]


def test_with_validation_on_a_clean_payload_is_checked_then_sent(ga4_endpoint, settings):
    settings.GA4_VALIDATE = True
    ga4_endpoint.answer = lambda path, body: (200, {"validationMessages": []})

    ga4_send_purchase(reservation=_reservation())

    assert [h.path for h in ga4_endpoint.hits] == ["/debug/mp/collect", "/mp/collect"]
    assert ga4_endpoint.hits[0].body == ga4_endpoint.hits[1].body
    assert ga4_endpoint.hits[1].query["measurement_id"] == "G-TEST12345"


def test_nothing_is_sent_without_consent_or_with_ga4_off(ga4_endpoint, settings):
    with pytest.raises(DeliveryRefused, match="consent"):
        ga4_send_purchase(reservation=_reservation(analytics_consent=False))
    settings.GA4_API_SECRET = ""
    with pytest.raises(DeliveryRefused, match="GA4 is off"):
        ga4_send_purchase(reservation=_reservation())

    assert ga4_endpoint.hits == []


@pytest.mark.parametrize(
    ("cookie", "client_id"),
    [
        ("GA1.1.1234567890.1700000000", "1234567890.1700000000"),
        ("GA1.2.987654321.1690000000", "987654321.1690000000"),
        (" GA1.1.42.1700000000 ", "42.1700000000"),
    ],
)
def test_the_client_id_is_read_from_the_ga_cookie(cookie, client_id):
    assert ga_client_id(cookie) == client_id


@pytest.mark.parametrize("cookie", ["", "GA1.1.abc.def", "<script>", "GA1.1.1.2.3", "1234.5678"])
def test_a_missing_or_malformed_ga_cookie_gets_a_new_client_id_in_gas_form(cookie):
    made = ga_client_id(cookie)

    assert re.fullmatch(r"[1-9]\d{0,9}\.\d{10}", made)
    assert made != ga_client_id(cookie)


def test_the_api_secret_never_reaches_the_log(ga4_endpoint, settings, caplog):
    """Tried: httpx logged each send's URL at INFO, GA4_API_SECRET in its query string."""
    ga4_send_purchase(reservation=_reservation())

    assert ga4_endpoint.hits[0].query["api_secret"] == settings.GA4_API_SECRET
    assert settings.GA4_API_SECRET not in caplog.text
