"""What an attacker can do with the PayPal webhook endpoint, and what it costs the shop.

PayPal signs only a CRC32 of the body, so a genuine delivery's headers can be made to fit
another body; a transmission id is refused with a second body.  Forged deliveries cannot make
the shop call out at their pace: certificate URLs of PayPal's shape only, cached, and a bound
per process on the calls that go out.  A body nested too deeply for the parser is a 400 for
both providers, not a 500.
"""

import datetime as dt
import json
import math
import time
import zlib
from collections.abc import Iterator

import pytest

from kennel.payments.models import WebhookEvent, WebhookTransmission
from kennel.payments.paypal.webhooks import outbound_budget
from tests.payments.test_paypal_webhooks import (  # the fixtures are used by name
    assert_refused,
    certs,  # noqa: F401
    event,
    paypal_cert_url,
    paypal_identity,  # noqa: F401
    paypal_sandbox,  # noqa: F401
    paypal_time,
    post,
    rejected,
    sandbox_event,
    signed,
)
from tests.payments.test_stripe_webhooks import SECRET as STRIPE_SECRET
from tests.payments.test_stripe_webhooks import sign as stripe_sign

FLOOD = 200
PER_MINUTE = 20


@pytest.fixture(autouse=True)
def _fresh_budget(settings) -> Iterator[None]:
    """Each test starts with a full bucket of PER_MINUTE calls (the bound is per process)."""
    settings.PAYPAL_WEBHOOK_VERIFY_PER_MINUTE = PER_MINUTE
    outbound_budget.cache_clear()
    yield
    outbound_budget.cache_clear()


def bucket_and_refill(*, since: float) -> int:
    """The most calls the bound lets through from `since` to now: the full bucket, and what
    it refilled meanwhile (PER_MINUTE a minute) — a flood on a busy machine takes longer."""
    return PER_MINUTE + math.ceil((time.monotonic() - since) * PER_MINUTE / 60) + 1


def forge_crc32(body: bytes, crc: int) -> bytes:
    """`body` (a JSON object) with a 64-letter "pad" member chosen so that its CRC32 is `crc`.

    CRC32 is affine over GF(2): for messages of one length, flipping a set of bits changes the
    CRC by the XOR of what each flip alone changes.  Each letter is `a` or `c` (one bit
    apart), so the pad is 64 independent switches; solving for them hits any CRC, and the
    body stays a valid JSON object."""
    head = body.rstrip()[:-1] + b', "pad": "'
    base = head + b"a" * 64 + b'"}'
    start = len(head)
    crc0 = zlib.crc32(base)
    basis: list[tuple[int, int]] = []  # (CRC change, the letters that make it), by top bit
    for i in range(64):
        flipped = bytearray(base)
        flipped[start + i] ^= 0x02
        change, letters = zlib.crc32(bytes(flipped)) ^ crc0, 1 << i
        for vec, combo in basis:
            if change ^ vec < change:
                change, letters = change ^ vec, letters ^ combo
        if change:
            basis.append((change, letters))
            basis.sort(reverse=True)
    want, letters = crc ^ crc0, 0
    for vec, combo in basis:
        if want ^ vec < want:
            want, letters = want ^ vec, letters ^ combo
    assert want == 0, "the pad's letters do not span every CRC32"
    forged = bytearray(base)
    for i in range(64):
        if letters >> i & 1:
            forged[start + i] ^= 0x02
    return bytes(forged)


def test_the_forger_matches_any_crc32_with_a_valid_json_body():
    for target in (0, 0xFFFFFFFF, 0x12345678, zlib.crc32(b"hello")):
        forged = forge_crc32(b'{"id": "WH-X"}', target)
        assert zlib.crc32(forged) == target
        assert json.loads(forged)["id"] == "WH-X"


# --------------------------------------------------------------------------- CRC32 forgery


@pytest.mark.django_db
def test_a_body_forged_to_a_genuine_deliverys_crc32_is_refused(client, certs, paypal_identity):  # noqa: F811
    genuine = event("PAYMENT.CAPTURE.COMPLETED", event_id="WH-GENUINE")
    headers = signed(genuine, paypal_identity, certs.publish("a", paypal_identity))
    other = event("PAYMENT.CAPTURE.COMPLETED", event_id="WH-FORGED").replace(b"PP-D-1", b"PP-D-9")
    forged = forge_crc32(other, zlib.crc32(genuine))
    assert forged != genuine
    assert zlib.crc32(forged) == zlib.crc32(genuine)  # so the signature fits it too

    assert post(client, genuine, headers).status_code == 200
    answer = post(client, forged, headers)

    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["message"] == "transmission_replayed"
    assert rejected("transmission_replayed") == 1
    assert list(WebhookEvent.objects.values_list("event_id", flat=True)) == ["WH-GENUINE"]


@pytest.mark.django_db
def test_genuine_repeats_and_redeliveries_are_acknowledged_and_stored_once(
    client,
    certs,  # noqa: F811
    paypal_identity,  # noqa: F811
):
    body = event("PAYMENT.CAPTURE.COMPLETED", event_id="WH-GENUINE")
    url = certs.publish("a", paypal_identity)
    first = signed(body, paypal_identity, url)
    redelivery = signed(body, paypal_identity, url)  # PayPal's retry: a new transmission id
    assert first["PAYPAL-TRANSMISSION-ID"] != redelivery["PAYPAL-TRANSMISSION-ID"]

    for headers in (first, first, redelivery, redelivery):
        assert post(client, body, headers).status_code == 200

    assert WebhookEvent.objects.count() == 1
    assert WebhookTransmission.objects.count() == 2
    # The redelivery's headers cannot carry a forged body either.
    forged = forge_crc32(event("PAYMENT.CAPTURE.COMPLETED", event_id="WH-F"), zlib.crc32(body))
    assert post(client, forged, redelivery).json()["error"]["message"] == "transmission_replayed"
    assert WebhookEvent.objects.count() == 1


# --------------------------------------------------------------------------- transmission time


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("shift", "accepted"),
    [
        (dt.timedelta(hours=-95), True),  # PayPal's last retries, three days on, if not re-dated
        (dt.timedelta(minutes=50), True),  # a sender's clock a little ahead
        (dt.timedelta(hours=-97), False),
        (dt.timedelta(days=-400), False),
        (dt.timedelta(hours=2), False),
        (dt.timedelta(days=365), False),
    ],
    ids=["95h-old", "50min-ahead", "97h-old", "a-year-old", "2h-ahead", "a-year-ahead"],
)
def test_a_transmission_time_far_from_now_is_refused_before_any_call(
    client,
    certs,  # noqa: F811
    paypal_identity,  # noqa: F811
    shift,
    accepted,
):
    body = event()
    when = paypal_time(dt.datetime.now(dt.UTC) + shift)
    headers = signed(
        body, paypal_identity, certs.publish("a", paypal_identity), transmission_time=when
    )

    answer = post(client, body, headers)

    if accepted:
        assert answer.status_code == 200, answer.content
    else:
        assert_refused(answer, "stale_timestamp")
        assert certs.hits == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("PAYPAL-TRANSMISSION-TIME", "yesterday"),
        ("PAYPAL-TRANSMISSION-TIME", "2026-12-06T00:00:00"),  # no zone
        ("PAYPAL-TRANSMISSION-ID", "a/../b"),
        ("PAYPAL-TRANSMISSION-ID", "x" * 51),
        ("PAYPAL-TRANSMISSION-SIG", "A" * 1001),
    ],
    ids=["time-words", "time-no-zone", "id-slashes", "id-long", "sig-long"],
)
def test_malformed_signature_headers_are_refused_before_any_call(
    client,
    certs,  # noqa: F811
    paypal_identity,  # noqa: F811
    header,
    value,
):
    body = event()
    headers = signed(body, paypal_identity, certs.publish("a", paypal_identity))
    headers[header] = value

    assert_refused(post(client, body, headers), "bad_signature")
    assert certs.hits == []


# --------------------------------------------------------------------------- cost bounds


@pytest.mark.django_db
def test_a_flood_with_varying_certificate_urls_makes_a_bounded_number_of_downloads(
    client,
    certs,  # noqa: F811
    paypal_identity,  # noqa: F811
):
    answers = []
    started = time.monotonic()
    for n in range(FLOOD):
        body = event(event_id=f"WH-FLOOD-{n}")
        url = paypal_cert_url(certs.url, f"forged-{n}")  # PayPal's shape, never published
        answers.append(post(client, body, signed(body, paypal_identity, url)).status_code)

    assert set(answers) == {400}
    assert len(certs.hits) <= bucket_and_refill(since=started)
    assert rejected("certificate_unavailable") == len(certs.hits)
    assert rejected("verification_rate_limited") == FLOOD - len(certs.hits)
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_flood_of_bad_signatures_under_paypals_certificate_downloads_it_once(
    client,
    certs,  # noqa: F811
    paypal_identity,  # noqa: F811
):
    url = certs.publish("a", paypal_identity)
    body = event("PAYMENT.CAPTURE.COMPLETED")
    headers = signed(body, paypal_identity, url)
    for n in range(FLOOD):
        tampered = body.replace(b"PP-D-1", f"PP-D-{n + 2}".encode())
        assert post(client, tampered, headers).status_code == 400

    assert certs.hits == ["/v1/notifications/certs/CERT-a"]
    assert rejected("bad_signature") == FLOOD
    # The genuine delivery still goes through: the cached certificate costs no call.
    assert post(client, body, headers).status_code == 200


@pytest.mark.django_db
def test_a_flood_in_api_mode_makes_a_bounded_number_of_postbacks(client, paypal_sandbox, settings):  # noqa: F811
    settings.PAYPAL_WEBHOOK_VERIFICATION = "api"
    answers = []
    started = time.monotonic()
    for n in range(FLOOD):
        body, headers = paypal_sandbox.paypal.signed_delivery(
            sandbox_event(paypal_sandbox, event_id=f"WH-FLOOD-{n}")
        )
        forged = body.replace(b"PP-D-1", b"PP-D-9")
        answers.append(post(client, forged, headers).status_code)

    postbacks = [
        c for c in paypal_sandbox.paypal.api_calls if c.path.endswith("/verify-webhook-signature")
    ]
    assert set(answers) == {400}
    assert len(postbacks) <= bucket_and_refill(since=started)
    assert rejected("bad_signature") == len(postbacks)
    assert rejected("verification_rate_limited") == FLOOD - len(postbacks)
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_with_the_bound_switched_off_every_delivery_is_verified(client, paypal_sandbox, settings):  # noqa: F811
    settings.PAYPAL_WEBHOOK_VERIFICATION = "api"
    settings.PAYPAL_WEBHOOK_VERIFY_PER_MINUTE = 0
    for n in range(PER_MINUTE + 5):
        body, headers = paypal_sandbox.paypal.signed_delivery(
            sandbox_event(paypal_sandbox, event_id=f"WH-{n}")
        )
        assert post(client, body, headers).status_code == 200

    assert WebhookEvent.objects.count() == PER_MINUTE + 5


# --------------------------------------------------------------------------- nested JSON


def nested(depth: int = 100_000) -> list[bytes]:
    return [
        b"[" * depth + b"]" * depth,
        b'{"id": "WH-1", "resource": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("shape", [0, 1], ids=["array", "object"])
def test_a_paypal_body_nested_too_deeply_is_refused_before_any_call(
    client,
    certs,  # noqa: F811
    paypal_identity,  # noqa: F811
    shape,
):
    body = nested()[shape]
    headers = signed(body, paypal_identity, certs.publish("a", paypal_identity))

    assert_refused(post(client, body, headers), "malformed_body")
    assert certs.hits == []


@pytest.mark.django_db
@pytest.mark.parametrize("shape", [0, 1], ids=["array", "object"])
def test_a_stripe_body_nested_too_deeply_is_refused(client, settings, shape):
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_SECRET
    body = nested()[shape]

    answer = client.post(
        "/webhooks/stripe/",
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": stripe_sign(body)},
    )

    assert answer.status_code == 400, answer.content
    assert answer.json() == {"error": {"code": "WEBHOOK_REJECTED", "message": "malformed_body"}}
    assert not WebhookEvent.objects.exists()
