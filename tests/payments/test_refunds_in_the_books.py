"""Refunds, whoever makes them, are in the books: the breeder's from the back office (through
the provider, once) and the ones made at the provider's dashboard (read from its events)."""

from decimal import Decimal
from io import StringIO
from typing import Any, cast

import pytest
from django.core.management import call_command

from kennel.catalogue.models import Puppy
from kennel.core.models import AuditLog, SideEffect
from kennel.notifications.emails import email_message
from kennel.payments.models import Refund
from kennel.payments.owner import RefundRefused, reservation_refund
from kennel.payments.selectors import reservation_money
from kennel.reservations.effects import Effect
from kennel.reservations.models import Reservation
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory
from tests.payments import paypal_helpers, stripe_helpers
from tests.payments.flow import process_webhooks, refund_at_dashboard, sandbox_refunds, settled

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDERS = ["stripe", "paypal"]


@pytest.fixture
def owner_email(settings: Any) -> str:
    settings.OWNER_EMAIL = "owner@example.com"
    return settings.OWNER_EMAIL


def confirmed(sandbox: Any, live_server: Any, provider: str) -> Reservation:
    """A deposit of 400.00 EUR paid through the sandbox and confirmed by its webhooks."""
    puppy = cast(Puppy, PuppyFactory(price=Decimal("2000.00"), deposit=Decimal("400.00")))
    if provider == "stripe":
        body = stripe_helpers.reserve(live_server.url, puppy.slug).json()
        stripe_helpers.choose(body["checkout_url"], "pay")
    else:
        body = paypal_helpers.reserve(live_server.url, puppy.slug).json()
        paypal_helpers.come_back(paypal_helpers.approve(body["checkout_url"], "approve"))
    reservation = settled(sandbox, body["id"])
    assert reservation.status == "confirmed"
    return reservation


def books() -> str:
    """What `reconcile_payments` says (it exits non-zero only when something needs attention)."""
    out = StringIO()
    call_command("reconcile_payments", stdout=out)
    return out.getvalue()


def refund_emails(reservation: Reservation) -> list[str]:
    return sorted(
        SideEffect.objects.filter(
            reservation_id=reservation.pk, kind__in=[Effect.BUYER_REFUND, Effect.OWNER_REFUND]
        ).values_list("kind", flat=True)
    )


def buyer_refund_texts(reservation: Reservation) -> list[str]:
    """The buyer's refund emails, oldest first, as they would be sent now."""
    effects = SideEffect.objects.filter(reservation_id=reservation.pk, kind=Effect.BUYER_REFUND)
    return [str(email_message(side_effect=e).body) for e in effects.order_by("pk")]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_partial_refund_at_the_dashboard_is_in_the_books_and_the_reservation_stands(
    sandbox, live_server, owner_email, provider
):
    reservation = confirmed(sandbox, live_server, provider)

    refund_at_dashboard(reservation, "50.00")
    process_webhooks(sandbox)

    [refund] = Refund.objects.filter(reservation=reservation)
    assert (refund.amount, refund.currency, refund.status, refund.reason) == (
        Decimal("50.00"),
        "EUR",
        "succeeded",
        "provider",
    )
    reservation.refresh_from_db()
    assert reservation.status == "confirmed"
    money = reservation_money(reservation)
    assert (money.deposit_paid, money.refunded, money.held) == (
        Decimal("400.00"),
        Decimal("50.00"),
        Decimal("350.00"),
    )
    assert refund_emails(reservation) == ["buyer_refund", "owner_refund"]
    assert "EUR: money in 400.00 = held 350.00 + refunded 50.00 + refunding 0: balanced" in books()
    assert "is cancelled" not in buyer_refund_texts(reservation)[0]

    # The rest at the dashboard too: the deposit is all back, the puppy free again.
    refund_at_dashboard(reservation, "350.00")
    process_webhooks(sandbox)

    reservation.refresh_from_db()
    assert reservation.status == "refunded"
    assert sorted(Refund.objects.values_list("amount", flat=True)) == [
        Decimal("50.00"),
        Decimal("350.00"),
    ]
    assert Puppy.objects.get(pk=reservation.puppy_id).status == "available"
    assert len(refund_emails(reservation)) == 4  # each refund told once, to each
    # Tried: the second email said only "the breeder has refunded (part of) your deposit".
    name = reservation.puppy.name if reservation.puppy else ""
    assert (
        f"Your deposit is now refunded in full, and your reservation of {name} is cancelled."
        in buyer_refund_texts(reservation)[1]
    )
    assert "EUR: money in 400.00 = held 0.00 + refunded 400.00 + refunding 0: balanced" in books()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_breeder_refunds_less_a_fee_once_however_often_it_is_asked(
    sandbox, live_server, owner_email, provider
):
    reservation = confirmed(sandbox, live_server, provider)

    refunds = [
        reservation_refund(
            reservation_id=reservation.pk, actor="staff:breeder", amount_kept=Decimal("50")
        )
        for _ in range(3)
    ]
    run_worker_once()  # the money queue sends it
    process_webhooks(sandbox)  # and the provider's refund event comes back

    assert refunds[0] is not None
    assert refunds[1:] == [None, None]
    assert sandbox_refunds(sandbox, reservation) in ([35000], [Decimal("350.00")])
    [refund] = Refund.objects.filter(reservation=reservation)  # the event found ours
    assert (refund.amount, refund.status, refund.reason) == (
        Decimal("350.00"),
        "succeeded",
        "owner",
    )
    assert refund.provider_refund_id
    reservation.refresh_from_db()
    assert (reservation.status, reservation.status_reason) == ("refunded", "owner_refunded_part")
    assert Puppy.objects.get(pk=reservation.puppy_id).status == "available"
    assert refund_emails(reservation) == ["buyer_refund", "owner_refund"]
    buyer_email = email_message(side_effect=SideEffect.objects.get(kind=Effect.BUYER_REFUND))
    assert "We are refunding 350.00 EUR of your 400.00 EUR deposit" in buyer_email.body
    assert "50.00 EUR stays with the breeder" in buyer_email.body
    assert "in full" not in buyer_email.body
    owner_email = email_message(side_effect=SideEffect.objects.get(kind=Effect.OWNER_REFUND))
    assert "(50.00 EUR of the deposit kept)" in owner_email.body
    assert f"payment {reservation.external_payment_id}" in owner_email.body
    audit = AuditLog.objects.get(action="payments.refund.requested", object_id=str(refund.pk))
    assert (audit.actor, audit.data["kept"]) == ("staff:breeder", "50.00")
    assert "EUR: money in 400.00 = held 50.00 + refunded 350.00 + refunding 0: balanced" in books()


def test_a_fee_that_leaves_nothing_to_refund_is_refused_and_changes_nothing(sandbox, live_server):
    reservation = confirmed(sandbox, live_server, "stripe")

    for kept in (Decimal("400.00"), Decimal("-1"), "lots", Decimal("1e40")):
        with pytest.raises(RefundRefused) as refused:
            reservation_refund(reservation_id=reservation.pk, actor="staff:b", amount_kept=kept)
        assert refused.value.code == "AMOUNT_INVALID"

    assert not Refund.objects.exists()
    assert Reservation.objects.get(pk=reservation.pk).status == "confirmed"


def test_the_breeder_can_keep_the_puppy_off_sale_when_refunding(sandbox, live_server):
    reservation = confirmed(sandbox, live_server, "stripe")

    reservation_refund(reservation_id=reservation.pk, actor="staff:b", puppy_available=False)

    puppy = Puppy.objects.get(pk=reservation.puppy_id)
    assert (puppy.status, puppy.is_published) == ("available", False)
    assert stripe_helpers.reserve(live_server.url, puppy.slug, n=9).status_code == 404
