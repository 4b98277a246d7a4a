"""The Stripe webhook endpoint refuses anything not signed by Stripe, and stores the rest."""

import hashlib
import hmac
import json
import time

import pytest

from kennel.core.models import SideEffect
from kennel.payments.models import WebhookEvent, WebhookRejection
from kennel.payments.webhooks import webhook_events_replay
from tests.payments.flow import run_webhook_jobs

SECRET = "whsec_test_webhooks"
URL = "/webhooks/stripe/"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET


def sign(body: bytes, *, secret: str = SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def event(type_: str = "customer.created", event_id: str = "evt_test_1") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": type_,
            "created": int(time.time()),
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        }
    ).encode()


def post(client, body: bytes, signature: str | None):
    headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return client.post(URL, data=body, content_type="application/json", **headers)


def rejected(reason: str) -> int:
    row = WebhookRejection.objects.filter(provider="stripe", reason=reason).first()
    return row.count if row else 0


@pytest.mark.django_db
def test_an_unknown_event_type_is_stored_acknowledged_and_ignored(client):
    body = event()
    answer = post(client, body, sign(body))
    assert answer.status_code == 200
    run_webhook_jobs()  # the worker's part
    stored = WebhookEvent.objects.get()
    assert (stored.event_id, stored.type, stored.status) == (
        "evt_test_1",
        "customer.created",
        "ignored",
    )
    assert stored.body == body.decode()


@pytest.mark.django_db
def test_a_duplicate_delivery_is_acknowledged_and_stored_once(client):
    body = event()
    for _ in range(3):
        assert post(client, body, sign(body)).status_code == 200
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make_signature", "reason"),
    [
        (lambda body: None, "missing_signature"),
        (lambda body: sign(body, secret="whsec_someone_else"), "bad_signature"),
        (lambda body: sign(body, at=int(time.time()) - 600), "stale_timestamp"),
        (lambda body: sign(body + b" "), "bad_signature"),  # body changed after signing
        (lambda body: "t=garbage", "bad_signature"),
    ],
    ids=["missing", "other-secret", "stale", "body-changed", "garbled-header"],
)
def test_a_badly_signed_delivery_is_refused_and_only_counted(client, make_signature, reason):
    body = event()
    answer = post(client, body, make_signature(body))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "WEBHOOK_REJECTED"
    assert not WebhookEvent.objects.exists()
    assert rejected(reason) == 1


@pytest.mark.django_db
def test_a_body_changed_after_signing_is_refused(client):
    body = event("checkout.session.completed")
    signature = sign(body)
    tampered = body.replace(b"evt_test_1", b"evt_test_2")
    assert post(client, tampered, signature).status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"object": "event"}',
        b"\xff\xfe",
        b'{"id": "evt_1", "type": "checkout.session.completed", "data": "x"}',
        b'{"id": "evt_1", "type": "checkout.session.completed", "data": {"object": [1]}}',
    ],
)
def test_a_signed_but_malformed_body_is_refused(client, body):
    answer = post(client, body, sign(body))
    assert answer.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_only_post_is_accepted(client):
    assert client.get(URL).status_code == 405
    assert (
        client.post("/webhooks/nobody/", data=b"{}", content_type="application/json").status_code
        == 404
    )


@pytest.mark.django_db
def test_an_event_the_shop_never_acts_on_is_ignored_at_once_and_queues_no_work(client):
    body = event("payment_intent.created", event_id="evt_not_ours")
    answer = post(client, body, sign(body))
    assert answer.json() == {"received": True, "status": "ignored"}
    stored = WebhookEvent.objects.get()
    assert stored.processed_at is not None
    assert not SideEffect.objects.exists()  # nothing for the worker
    # The back office can still replay it: it is queued and ignored again by the worker.
    assert webhook_events_replay(event_ids=[stored.pk], actor="staff:test") == 1
    run_webhook_jobs()
    stored.refresh_from_db()
    assert stored.status == "ignored"
    assert SideEffect.objects.get().status == "sent"


@pytest.mark.django_db
def test_a_delivery_to_the_address_without_its_slash_is_stored_not_redirected(client):
    # A POST answered 301 is a failed delivery to Stripe and PayPal: the endpoint is taken
    # as the provider's dashboard may have been told it.
    body = event()

    answer = client.post(
        "/webhooks/stripe",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body),
    )

    assert answer.status_code == 200
    assert WebhookEvent.objects.get().event_id == "evt_test_1"
