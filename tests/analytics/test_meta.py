"""Meta Conversions API: contact details leave only as SHA-256 of Meta's normalised form (checked
against the vectors Meta publishes), and the Purchase event is what Meta documents."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from kennel.analytics.meta import (
    hashed_user_data,
    meta_purchase_event,
    meta_send_purchase,
    normalize_name,
    normalize_phone,
    sha256_hex,
    split_name,
)
from kennel.catalogue.models import Puppy
from kennel.core.outbox import DeliveryFailed, DeliveryRefused
from kennel.reservations.models import Reservation

# Meta's own examples ("customer information parameters") and one of ours.
JANE_DOE_EMAIL = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
FRENCH_MOBILE = "8a3e7886c9335e82e02299fa3e87b46e2de3b0c63d56003e30a5029394a47661"  # 33612345678


def _reservation(**changes) -> Reservation:
    fields = {
        "puppy": Puppy(slug="bella", name="Bella", breed="Golden", price=Decimal(2000)),
        "buyer_name": "Jane Doe",
        "buyer_email": "jane.doe@example.com",
        "buyer_phone": "+33 6 12 34 56 78",
        "deposit_amount": Decimal("400.00"),
        "currency": "EUR",
        "provider": "stripe",
        "status": "confirmed",
        "confirmed_at": timezone.now() - timedelta(minutes=5),
        "analytics_consent": True,
        "fbp": "fb.1.1700000000000.1234567890",
        "fbc": "fb.1.1700000000000.AbCdEf_123",
        "client_ip": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0 Kennel-Test",
        "event_source_url": "https://shop.example/puppies/bella/",
    }
    fields.update(changes)
    return Reservation(**fields)


@pytest.mark.parametrize(
    ("email", "digest"),
    [
        ("jane.doe@example.com", JANE_DOE_EMAIL),
        ("  Jane.Doe@Example.COM ", JANE_DOE_EMAIL),
        (
            "John_Smith@gmail.com",
            "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
        ),
    ],
)
def test_emails_are_trimmed_lower_cased_and_hashed_as_meta_documents(email, digest):
    reservation = _reservation(buyer_email=email)

    assert hashed_user_data(reservation)["em"] == [digest]


@pytest.mark.parametrize(
    ("phone", "country_code", "digest"),
    [
        ("(650)555-1212", "1", "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"),
        (
            "+1 (650) 555-1212",
            "",
            "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
        ),
        ("+33 6 12 34 56 78", "", FRENCH_MOBILE),
        ("0033 6 12 34 56 78", "", FRENCH_MOBILE),
        ("06 12 34 56 78", "33", FRENCH_MOBILE),
        ("06.12.34.56.78", "+33", FRENCH_MOBILE),
        ("+33 (0)6 12 34 56 78", "", FRENCH_MOBILE),
    ],
)
def test_phones_keep_digits_and_the_country_code_without_leading_zeros(
    phone, country_code, digest, settings
):
    settings.PHONE_COUNTRY_CODE = country_code

    assert hashed_user_data(_reservation(buyer_phone=phone))["ph"] == [digest]


@pytest.mark.parametrize(
    ("name", "normalised", "digest"),
    [
        ("Mary", "mary", "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
        ("정", "정", "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"),
        ("Valéry", "valéry", "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
        (
            "Vale\u0301ry",
            "valéry",
            "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c",
        ),
        ("  O'Brien-Smith. ", "obriensmith", sha256_hex("obriensmith")),
    ],
)
def test_names_are_lower_case_letters_only_in_utf8_then_hashed(name, normalised, digest):
    assert normalize_name(name) == normalised
    assert sha256_hex(normalize_name(name)) == digest


def test_first_and_last_name_are_the_first_and_last_words():
    assert split_name("Jane Doe") == ("Jane", "Doe")
    assert split_name("  Mary Ann  van der Berg ") == ("Mary", "Berg")
    assert split_name("Cher") == ("Cher", "")
    assert split_name("") == ("", "")
    data = hashed_user_data(_reservation(buyer_name="Cher"))
    assert "ln" not in data
    assert data["fn"] == [sha256_hex("cher")]


def test_a_phone_without_digits_is_left_out_rather_than_hashed_empty():
    assert normalize_phone("call me") == ""
    assert "ph" not in hashed_user_data(_reservation(buyer_phone="call me"))


def test_the_purchase_event_is_what_meta_documents():
    reservation = _reservation()

    event = meta_purchase_event(reservation)

    assert event == {
        "event_name": "Purchase",
        "event_time": int(reservation.confirmed_at.timestamp()),
        "event_id": str(reservation.pk),
        "action_source": "website",
        "event_source_url": "https://shop.example/puppies/bella/",
        "user_data": {
            "em": [JANE_DOE_EMAIL],
            "ph": [FRENCH_MOBILE],
            "fn": [sha256_hex("jane")],
            "ln": [sha256_hex("doe")],
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 Kennel-Test",
            "fbp": "fb.1.1700000000000.1234567890",
            "fbc": "fb.1.1700000000000.AbCdEf_123",
        },
        "custom_data": {
            "value": 400.0,
            "currency": "eur",
            "content_ids": ["bella"],
            "content_type": "product",
            "order_id": str(reservation.pk),
        },
    }


@pytest.mark.parametrize(
    ("name", "email", "phone"),
    [
        ("Jane Doe", "jane.doe@example.com", "+33 6 12 34 56 78"),
        ("Zoë Quintero-Wyatt", "Zoe.Q+puppies@Example.org", "0033 (0)7 98 76 54 32"),
        ("Kwame Mensah", "kwame@mensah.example", "+233 24 123 4567"),
    ],
)
def test_no_raw_email_phone_or_name_ever_leaves_in_the_payload(meta_endpoint, name, email, phone):
    meta_send_purchase(
        reservation=_reservation(buyer_name=name, buyer_email=email, buyer_phone=phone)
    )

    [hit] = meta_endpoint.hits
    sent = json.dumps(hit.body).lower() + hit.path.lower() + json.dumps(hit.query).lower()
    digits = "".join(c for c in phone if c.isdigit())
    for secret in [email.lower(), email.split("@")[0].lower(), *name.lower().split()]:
        assert secret not in sent
    for form in [digits, digits.lstrip("0"), phone.lower(), phone.replace(" ", "")]:
        assert form not in sent


def test_the_token_travels_in_the_body_and_test_events_are_marked(meta_endpoint, settings):
    settings.META_TEST_EVENT_CODE = "TEST12345"

    meta_send_purchase(reservation=_reservation())

    [hit] = meta_endpoint.hits
    assert hit.path == "/v23.0/1234567890123/events"
    assert hit.query == {}
    assert hit.body["access_token"] == "meta-test-token"
    assert hit.body["test_event_code"] == "TEST12345"
    assert hit.headers["content-type"] == "application/json"


def test_without_consent_or_settings_nothing_goes_to_meta(meta_endpoint, settings):
    with pytest.raises(DeliveryRefused, match="consent"):
        meta_send_purchase(reservation=_reservation(analytics_consent=False))
    settings.META_PIXEL_ID = ""
    with pytest.raises(DeliveryRefused, match="Meta is off"):
        meta_send_purchase(reservation=_reservation())

    assert meta_endpoint.hits == []


@pytest.mark.parametrize(
    ("status", "answer", "failure"),
    [
        (500, {"error": {"message": "oops"}}, DeliveryFailed),
        (429, {}, DeliveryFailed),
        (400, {"error": {"code": 100, "message": "Invalid parameter"}}, DeliveryRefused),
        (400, {"error": {"code": 2, "is_transient": True}}, DeliveryFailed),
        (400, {"error": {"code": 17, "message": "User request limit reached"}}, DeliveryFailed),
        (403, "not json", DeliveryRefused),
    ],
)
def test_meta_answers_are_sorted_into_retry_later_or_give_up(
    meta_endpoint, status, answer, failure
):
    meta_endpoint.answer = lambda path, body: (status, answer)

    with pytest.raises(failure) as caught:
        meta_send_purchase(reservation=_reservation())

    assert type(caught.value) is failure
    assert caught.value.status == status
    assert "meta-test-token" not in str(caught.value)


def test_a_purchase_older_than_meta_accepts_is_sent_as_now_rather_than_refused():
    before = int(timezone.now().timestamp())
    event = meta_purchase_event(_reservation(confirmed_at=timezone.now() - timedelta(days=8)))

    assert before <= event["event_time"] <= int(timezone.now().timestamp())
