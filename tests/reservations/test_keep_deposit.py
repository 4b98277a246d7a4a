"""The breeder cancels a paid reservation and keeps the whole deposit (non-refundable terms):
tried — the back office refused to keep it all ("do not refund"), so a family who backed out
kept their puppy reserved for good, and a puppy that came back after going home could never
be put on sale again. Keeping all of it through *Cancel and refund* now ends the reservation
with nothing sent back: the buyer is told, the puppy is free, the books count the deposit as
held, and the payment's own events change nothing later."""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from kennel.catalogue.models import Puppy
from kennel.payments.models import Refund
from kennel.payments.owner import RefundRefused, reservation_keep_deposit
from kennel.payments.reconcile import payments_reconcile
from kennel.payments.services import payment_refresh
from kennel.reservations.models import Reservation
from kennel.reservations.services import puppy_put_on_sale
from tests.conftest import run_worker_once
from tests.reservations.test_admin_actions import (
    OWNER,
    PROVIDERS,
    action,
    confirm,
    drain,
    emails_to,
    owner,  # noqa: F401 (the autouse fixture: OWNER_EMAIL set)
    paid,
    public_page,
    sandbox_refunds,
)
from tests.reservations.waitlist_helpers import on_list, open_litter

pytestmark = pytest.mark.django_db(transaction=True)

KEEP_ALL = {"refund_form": "1", "shown_keep": "400", "amount_to_keep": "400"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_keeping_the_whole_deposit_cancels_refunds_nothing_frees_the_puppy_and_tells_the_buyer(
    sandbox, live_server, admin_client, provider
):
    reservation = paid(sandbox, live_server, provider)
    assert reservation.deposit_amount == Decimal("400.00")
    run_worker_once()  # the confirmation emails
    mail.outbox.clear()

    _page, data = action(admin_client, "refund_deposit", reservation)
    shown = confirm(admin_client, {**data, **KEEP_ALL, "shown_keep": "0", "puppy_available": "on"})
    assert "Nothing is refunded: you keep the whole deposit (400.00 EUR)." in shown
    assert f"Told by email: the buyer ({reservation.buyer_email})." in shown
    assert Reservation.objects.get(pk=reservation.pk).status == "confirmed"  # nothing yet

    first = confirm(admin_client, {**data, **KEEP_ALL, "puppy_available": "on"})
    second = confirm(admin_client, {**data, **KEEP_ALL, "puppy_available": "on"})
    drain(sandbox)

    assert "cancelled — you keep the whole deposit of 400.00 EUR" in first
    assert "already cancelled or refunded — nothing changed" in second
    reservation.refresh_from_db()
    assert (reservation.status, reservation.status_reason) == ("refunded", "owner_kept")
    assert not Refund.objects.exists()
    assert sandbox_refunds(sandbox, reservation) == []
    assert 'class="reserve-form"' in public_page(reservation.puppy.slug)
    assert emails_to(reservation.buyer_email) == [
        f"Your reservation of {reservation.puppy.name} is cancelled"
    ]
    [email] = mail.outbox
    assert "Your deposit of 400.00 EUR is kept, as the deposit terms allow" in str(email.body)
    assert emails_to(OWNER) == []

    status = Client().get(reservation.get_absolute_url()).content.decode()
    assert "Reservation cancelled" in status
    assert "kept the deposit" in status
    assert "Deposit refunded" not in status

    books = payments_reconcile(days=0).books["EUR"]
    assert (books.money_in, books.held, books.refunded) == (Decimal(400), Decimal(400), 0)
    assert books.balanced

    # The payment's own events later (a redelivery, the reconciliation's re-read) change
    # nothing: the deposit stays kept, nothing is refunded.
    payment_refresh(reservation=reservation, actor="test")
    drain(sandbox)
    reservation.refresh_from_db()
    assert (reservation.status, reservation.status_reason) == ("refunded", "owner_kept")
    assert not Refund.objects.exists()

    detail = admin_client.get(
        reverse("admin:reservations_reservation_change", args=[reservation.pk])
    ).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", detail))
    assert "Cancelled keeping the whole deposit (kept 400.00)" in text
    assert "Closed — Cancelled by the breeder; deposit kept" in text
    assert "Deposit held 400.00 EUR" in text


def test_a_puppy_that_came_back_goes_on_sale_once_its_whole_deposit_is_kept(
    sandbox, live_server, admin_client
):
    reservation = paid(sandbox, live_server, "stripe")
    _, picked = action(admin_client, "mark_picked_up", reservation)
    confirm(admin_client, picked)
    _, data = action(admin_client, "refund_deposit", reservation)

    page = confirm(admin_client, {**data, **KEEP_ALL})

    assert "you keep the whole deposit of 400.00 EUR" in page
    assert puppy_put_on_sale(puppy_id=reservation.puppy_id, actor="staff:admin")
    assert Puppy.objects.get(pk=reservation.puppy_id).status == "available"
    assert not Refund.objects.exists()


@pytest.mark.parametrize("keep", ["400.01", "500"])
def test_keeping_more_than_the_deposit_is_refused_and_nothing_changes(
    sandbox, live_server, admin_client, keep
):
    reservation = paid(sandbox, live_server, "stripe")
    _, data = action(admin_client, "refund_deposit", reservation)

    page = confirm(
        admin_client, {**data, "refund_form": "1", "shown_keep": keep, "amount_to_keep": keep}
    )

    assert "cannot be more than the deposit held (400.00 EUR)" in page
    assert Reservation.objects.get(pk=reservation.pk).status == "confirmed"


def test_the_deposit_held_must_be_the_one_the_breeder_chose_to_keep(sandbox, live_server):
    reservation = paid(sandbox, live_server, "stripe")

    with pytest.raises(RefundRefused) as refused:
        reservation_keep_deposit(
            reservation_id=reservation.pk, actor="staff:admin", amount_held=Decimal("350.00")
        )

    assert refused.value.code == "AMOUNT_INVALID"
    assert "400.00 EUR" in refused.value.message
    assert Reservation.objects.get(pk=reservation.pk).status == "confirmed"


def test_a_waiting_lists_deposit_is_not_kept_whole_from_here():
    entry = on_list(open_litter(), 1)
    held = entry.reservation.deposit_amount

    with pytest.raises(RefundRefused) as refused:
        reservation_keep_deposit(
            reservation_id=entry.reservation_id, actor="staff:admin", amount_held=held
        )

    assert refused.value.code == "AMOUNT_INVALID"
    assert Reservation.objects.get(pk=entry.reservation_id).status == "confirmed"
