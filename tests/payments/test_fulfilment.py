"""The shared fulfilment, driven by provider snapshots: the cases a review found at the edges."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from kennel.payments.fulfilment import payment_apply
from kennel.payments.models import Refund, WebhookEvent
from kennel.payments.providers import PaymentSnapshot, PaymentState
from kennel.payments.webhooks import MAX_ATTEMPTS, webhook_process
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation
from kennel.reservations.services import reservation_hold
from tests.factories import PuppyFactory

pytestmark = pytest.mark.django_db(transaction=True)
BUYER = Buyer(name="Jane Doe", email="jane@example.com", phone="+33 6 12 34 56 78")


def paid(
    reservation: Reservation, *, reference: str, payment_id: str, **changes
) -> PaymentSnapshot:
    fields = {
        "provider": reservation.provider,
        "reference": reference,
        "state": PaymentState.PAID,
        "reservation_id": str(reservation.pk),
        "payment_id": payment_id,
        "amount": reservation.deposit_amount,
        "currency": reservation.currency,
        **changes,
    }
    return PaymentSnapshot(**fields)


def test_a_currency_typed_in_lower_case_still_confirms_the_deposit():
    puppy = PuppyFactory(currency="eur")
    assert puppy.currency == "EUR"
    reservation = reservation_hold(puppy_slug=puppy.slug, buyer=BUYER, provider="stripe")
    Reservation.objects.filter(pk=reservation.pk).update(provider_reference="cs_1")

    payment_apply(
        snapshot=paid(reservation, reference="cs_1", payment_id="pi_1", currency="EUR"),
        actor="test",
    )

    reservation.refresh_from_db()
    assert reservation.status == "confirmed"
    assert not Refund.objects.exists()


def test_a_deposit_is_kept_in_the_currencys_own_minor_unit():
    puppy = PuppyFactory(currency="JPY", price=Decimal("250000"), deposit=Decimal("1234.50"))
    puppy.refresh_from_db()
    assert puppy.deposit == Decimal("1235")


def test_a_late_payment_takes_a_puppy_whose_other_hold_has_run_out_unswept():
    puppy = PuppyFactory()
    late = reservation_hold(puppy_slug=puppy.slug, buyer=BUYER, provider="paypal")
    Reservation.objects.filter(pk=late.pk).update(
        provider_reference="ORDER1", expires_at=timezone.now() - timedelta(minutes=40)
    )
    other = reservation_hold(puppy_slug=puppy.slug, buyer=BUYER, provider="paypal")
    Reservation.objects.filter(pk=other.pk).update(
        expires_at=timezone.now() - timedelta(seconds=5)
    )  # past its time; the minute sweep has not run yet

    payment_apply(snapshot=paid(late, reference="ORDER1", payment_id="CAP1"), actor="test")

    late.refresh_from_db()
    other.refresh_from_db()
    assert (late.status, late.status_reason) == ("confirmed", "late_payment_accepted")
    assert other.status == "expired"
    assert not Refund.objects.exists()


def test_a_fresh_delivery_processes_an_event_our_own_retries_gave_up_on():
    event = WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_given_up",
        type="customer.created",
        body='{"id": "evt_given_up", "type": "customer.created", "data": {"object": {}}}',
        status=WebhookEvent.Status.FAILED,
        attempts=MAX_ATTEMPTS,
    )
    assert webhook_process(event_pk=event.pk) == "failed"  # the sweep leaves it alone
    assert webhook_process(event_pk=event.pk, delivered=True) == "ignored"


@pytest.mark.parametrize("path", ["/payments/stripe/return/", "/payments/stripe/cancel/"])
@pytest.mark.parametrize("token", ["\x00", "nope", "x" * 300])
def test_a_return_or_cancel_url_with_a_bad_token_is_a_404(client, path, token):
    assert client.get(path, {"reservation": token}).status_code == 404


def test_a_refund_the_provider_refuses_for_good_is_marked_failed_and_not_retried(
    sandbox, live_server
):
    import stripe

    from kennel.core.models import SideEffect
    from kennel.core.outbox import side_effect_run, side_effects_recover
    from kennel.payments.fulfilment import refund_send_enqueue
    from tests.payments.flow import settled
    from tests.payments.stripe_helpers import choose, reserve

    puppy = PuppyFactory()
    body = reserve(live_server.url, puppy.slug).json()
    choose(body["checkout_url"], "pay")
    reservation = settled(sandbox, body["id"])
    stripe_client = stripe.StripeClient(
        "sk_test_kennel", base_addresses={"api": sandbox.public_url}
    )
    stripe_client.v1.refunds.create(params={"payment_intent": reservation.external_payment_id})
    with transaction.atomic():
        refund = Refund.objects.create(
            reservation=reservation,
            provider="stripe",
            external_payment_id=reservation.external_payment_id,
            amount=reservation.deposit_amount,
            currency=reservation.currency,
            reason=Refund.Reason.OWNER,
            idempotency_key="test-refund-after-manual-refund",
        )
        refund_send_enqueue(refund)
    job = SideEffect.objects.get(kind="refund_send")

    assert side_effect_run(side_effect_id=job.pk) == "dead"

    refund.refresh_from_db()
    assert refund.status == "failed"
    assert refund.last_error
    Refund.objects.filter(pk=refund.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    SideEffect.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert side_effects_recover() == 0
    assert SideEffect.objects.get(pk=job.pk).status == "dead"
