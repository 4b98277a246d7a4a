"""The status page as good as the email: money, reference, next steps, contact, a timeline;
continue/cancel while pending (the token is the key); *Try again* when the puppy is free."""

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kennel.catalogue.models import Puppy, PuppyPhoto
from kennel.core.db import locked_transaction
from kennel.core.models import AuditLog
from kennel.payments.models import Refund
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation
from kennel.reservations.services import (
    reservation_confirm,
    reservation_hold,
    reservation_mark_processing,
    reservation_release,
)
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db

S = Reservation.Status
CHECKOUT = "https://checkout.stripe.com/c/pay/cs_test_status"


def _html(client, reservation: Reservation) -> str:
    response = client.get(reservation.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def _confirmed(**kwargs: Any) -> Any:
    puppy = PuppyFactory(
        name="Rosie", price=Decimal("2500.00"), deposit=Decimal("500.00"), currency="EUR"
    )
    return ReservationFactory(
        puppy=puppy,
        status=S.CONFIRMED,
        external_payment_id=f"pi_{uuid.uuid4().hex}",
        confirmed_at=timezone.now() + timedelta(seconds=1),
        **kwargs,
    )


def test_the_confirmed_page_shows_deposit_balance_total_and_the_reference(client, settings):
    settings.BREEDER_NAME = "Marie Martin"
    settings.BREEDER_EMAIL = "marie@example.com"
    settings.BREEDER_PHONE = "+33 6 11 22 33 44"
    reservation = _confirmed()

    html = _html(client, reservation)

    ref = reservation.pk.hex[:8].upper()
    assert reservation.reference == ref
    assert f'<dd class="status__reference">{ref}</dd>' in html
    assert "Deposit paid</dt><dd>500.00 EUR" in html
    assert '<dt>Balance due at pickup</dt><dd class="status__balance">2,000.00 EUR</dd>' in html
    assert "Total price</dt><dd>2,500.00 EUR" in html
    assert "What happens next" in html
    assert "Marie Martin will contact you" in html
    assert 'href="mailto:marie@example.com"' in html
    assert 'href="tel:+33611223344"' in html
    assert "Continue to payment" not in html
    assert "Cancel reservation" not in html


def test_the_headline_comes_before_the_photo_for_a_phone(client):
    reservation = _confirmed()
    # A photo row as an old upload left it (no web sizes): the page shows it as it is.
    PuppyPhoto.objects.create(puppy=reservation.puppy, image="puppies/rosie.jpg", alt="Rosie")

    html = _html(client, reservation)

    assert 'class="status__photo"' in html
    assert html.index('id="status-title"') < html.index('class="status__photo"')


def test_the_timeline_follows_the_audit_lines_of_a_real_hold_and_shows_what_is_next(client):
    puppy = PuppyFactory(name="Rosie")
    held = reservation_hold(
        puppy_slug=puppy.slug,
        buyer=Buyer(name="Jane", email="jane@example.com", phone="+33 600000000"),
        provider="stripe",
    )

    html = _html(client, held)

    timeline = html[html.index('class="timeline"') :]
    assert timeline.index("Rosie held for you") < timeline.index("Pay the deposit")
    assert timeline.index("Pay the deposit") < timeline.index("Pickup")
    assert "timeline__step--done" in timeline
    assert "still to come" in timeline

    reservation_release(
        reservation_id=held.pk, status=S.CANCELLED, actor="buyer", reason="buyer_cancelled"
    )
    html = _html(client, held)
    timeline = html[html.index('class="timeline"') :]
    assert timeline.index("Rosie held for you") < timeline.index("Reservation cancelled")
    assert "Pay the deposit" not in timeline
    assert AuditLog.objects.filter(object_id=str(held.pk)).count() == 2


def test_a_confirmed_reservations_timeline_shows_held_then_paid(client):
    reservation = _confirmed()

    html = _html(client, reservation)

    timeline = html[html.index('class="timeline"') :]
    assert timeline.index("Rosie held for you") < timeline.index("Deposit paid")
    assert "Pickup: you pay the balance" in timeline


def test_the_refunded_page_shows_the_refunded_amount(client):
    reservation = _confirmed()
    Reservation.objects.filter(pk=reservation.pk).update(status=S.REFUNDED)
    Puppy.objects.filter(pk=reservation.puppy_id).update(status=Puppy.Status.AVAILABLE)
    reservation.refresh_from_db()
    Refund.objects.create(
        reservation=reservation,
        provider=reservation.provider,
        external_payment_id=reservation.external_payment_id,
        amount=Decimal("500.00"),
        currency="EUR",
        reason="owner",
        status=Refund.Status.SUCCEEDED,
        idempotency_key=f"test-{reservation.pk}",
    )

    html = _html(client, reservation)

    assert "Deposit refunded" in html
    assert "<dt>Refunded</dt><dd>500.00 EUR</dd>" in html
    assert "Balance due" not in html


@pytest.mark.parametrize(
    ("refunds", "headline", "text"),
    [
        ([("500.00", "pending")], "Refund on its way", "Your refund is on its way"),
        ([("500.00", "failed")], "Refund delayed", "Your refund has not gone through yet"),
        (
            [("450.00", "succeeded")],
            "Reservation cancelled",
            "450.00 EUR of your deposit is refunded to you and 50.00 EUR stays with the breeder",
        ),
        ([("500.00", "succeeded")], "Deposit refunded", "Your deposit was refunded."),
    ],
)
def test_a_refunded_page_says_where_the_refund_stands(client, refunds, headline, text):
    """Tried: a refund the provider refused (and one only part of the deposit) read
    "Deposit refunded. Your deposit was refunded." to the buyer."""
    reservation = _confirmed()
    Reservation.objects.filter(pk=reservation.pk).update(status=S.REFUNDED)
    Puppy.objects.filter(pk=reservation.puppy_id).update(status=Puppy.Status.AVAILABLE)
    reservation.refresh_from_db()
    for n, (amount, status) in enumerate(refunds):
        Refund.objects.create(
            reservation=reservation,
            provider=reservation.provider,
            external_payment_id=reservation.external_payment_id,
            amount=Decimal(amount),
            currency="EUR",
            reason="owner",
            status=status,
            idempotency_key=f"test-{reservation.pk}-{n}",
        )

    html = _html(client, reservation)

    assert headline in html
    assert text in html
    if headline != "Deposit refunded":
        assert "Your deposit was refunded." not in html


def test_anyone_with_the_status_address_may_continue_or_cancel_a_pending_hold(client):
    reservation = ReservationFactory(checkout_url=CHECKOUT, provider_reference="cs_test_status")

    html = _html(client, reservation)

    assert "You started reserving" in html
    assert f'href="{CHECKOUT}"' in html
    assert f'action="/reservations/{reservation.token}/cancel/"' in html
    assert 'name="csrfmiddlewaretoken"' in html


@pytest.mark.parametrize(
    "status", [S.PROCESSING, S.CONFIRMED, S.COMPLETED, S.EXPIRED, S.CANCELLED, S.RELEASED]
)
def test_continue_and_cancel_are_never_offered_for_a_reservation_not_pending(client, status):
    reservation = ReservationFactory(
        status=status, checkout_url=CHECKOUT, provider_reference=f"cs_{status}"
    )

    html = _html(client, reservation)

    assert CHECKOUT not in html
    assert "Continue to payment" not in html
    assert "/cancel/" not in html


def test_a_pending_hold_past_its_time_offers_cancel_but_not_continue(client):
    reservation = ReservationFactory(
        checkout_url=CHECKOUT,
        provider_reference="cs_test_late",
        expires_at=timezone.now() - timedelta(minutes=1),
    )

    html = _html(client, reservation)

    assert CHECKOUT not in html
    assert "Cancel reservation" in html


@pytest.mark.parametrize("status", [S.EXPIRED, S.CANCELLED, S.RELEASED])
def test_try_again_is_shown_when_the_puppy_is_free(client, status):
    reservation = ReservationFactory(status=status)

    html = _html(client, reservation)

    assert "Try again" in html
    assert f'href="{reservation.puppy.get_absolute_url()}">Try again' in html


@pytest.mark.parametrize("puppy_status", [Puppy.Status.HELD, Puppy.Status.RESERVED])
@pytest.mark.parametrize("status", [S.EXPIRED, S.CANCELLED, S.RELEASED])
def test_try_again_is_not_shown_when_the_puppy_is_taken(client, status, puppy_status):
    reservation = ReservationFactory(status=status)
    Puppy.objects.filter(pk=reservation.puppy_id).update(status=puppy_status)

    html = _html(client, reservation)

    assert "Try again" not in html
    assert "See the puppies available now" in html


@pytest.mark.parametrize("again", [S.PENDING, S.CONFIRMED])
def test_an_ended_reservation_leads_its_buyer_to_the_one_they_made_again(client, again):
    """Tried: a buyer cancelled their card hold and reserved the same puppy with PayPal; the
    first reservation's page said the puppy "is not available right now"."""
    first = ReservationFactory(
        status=S.CANCELLED, buyer_email="ann@example.com", puppy=PuppyFactory(name="Rosie")
    )
    second = ReservationFactory(
        puppy=first.puppy, status=again, buyer_email="ann@example.com", provider="paypal"
    )

    html = _html(client, first)

    assert "You reserved Rosie again since:" in html
    assert f'<a href="{second.get_absolute_url()}">see that reservation</a>' in html
    assert "is not available right now" not in html


def test_another_buyers_reservation_of_the_puppy_is_never_linked(client):
    first = ReservationFactory(status=S.CANCELLED, buyer_email="ann@example.com")
    other = ReservationFactory(puppy=first.puppy, buyer_email="bob@example.com")

    html = _html(client, first)

    assert other.token not in html
    assert "is not available right now" in html


def test_a_buyer_who_keeps_cancelling_is_told_when_they_may_reserve_again(client, settings):
    settings.HOLD_COOLDOWN_SECONDS = 120
    first = ReservationFactory(
        status=S.CANCELLED,
        status_reason="buyer_cancelled",
        closed_at=timezone.now() - timedelta(minutes=5),
    )
    once = _html(client, first)
    assert "Try again" in once
    assert "you can reserve again from" not in once  # one change of mind costs nothing
    second = ReservationFactory(
        puppy=first.puppy,
        buyer_email=first.buyer_email,
        status=S.CANCELLED,
        status_reason="buyer_cancelled",
        closed_at=timezone.now(),
    )

    html = _html(client, second)

    assert "Try again" in html
    assert "you can reserve again from" in html


@pytest.mark.parametrize("status", [S.PENDING, S.CONFIRMED])
def test_the_page_has_no_inline_script_or_style(client, status):
    reservation = ReservationFactory(status=status, checkout_url=CHECKOUT)

    html = _html(client, reservation)

    assert "<script>" not in html
    assert " style=" not in html


def _facts(html: str) -> str:
    return html[html.index('<dl class="facts">') : html.index("</dl>")]


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (S.PENDING, "Paying with"),
        (S.PROCESSING, "Paying with"),
        (S.CONFIRMED, "Paid with"),
        (S.EXPIRED, None),
        (S.CANCELLED, None),
        (S.RELEASED, None),
    ],
)
def test_paid_with_is_said_only_of_a_deposit_that_was_paid(client, status, label):
    """Tried: a hold that expired, was cancelled or whose payment failed read "Paid with
    Card (Stripe)" although nothing was charged."""
    reservation = ReservationFactory(status=status)

    facts = _facts(_html(client, reservation))

    for other in ("Paying with", "Paid with"):
        if other != label:
            assert f"<dt>{other}</dt>" not in facts
    if label:
        assert f"<dt>{label}</dt><dd>Card (Stripe)</dd>" in facts


def test_a_paypal_payment_held_for_review_is_not_said_to_be_at_the_bank(client):
    """Tried: a PayPal capture left PENDING (held for review by PayPal) read "Your bank is
    processing the payment" on the page and in its timeline."""
    held = reservation_hold(
        puppy_slug=PuppyFactory(name="Rosie").slug,
        buyer=Buyer(name="Jane", email="jane@example.com", phone="+33 600000000"),
        provider="paypal",
    )
    with locked_transaction():
        locked = Reservation.objects.select_for_update().get(pk=held.pk)
        assert reservation_mark_processing(locked, actor="test")

    html = _html(client, held)

    assert "PayPal is reviewing the payment" in html
    assert "bank" not in html.lower()


def test_a_card_payment_in_progress_still_says_the_bank_processes_it(client):
    reservation = ReservationFactory(status=S.PROCESSING)

    html = _html(client, reservation)

    assert "Your bank is processing the payment" in html


@pytest.mark.parametrize("status", [S.PENDING, S.PROCESSING])
def test_the_reference_is_shown_before_the_payment_is_through(client, status):
    """Tried: the "being processed" email gave the buyer a reference the page never showed
    while the payment was pending or processing."""
    reservation = ReservationFactory(status=status)

    html = _html(client, reservation)

    assert f'<dd class="status__reference">{reservation.reference}</dd>' in html


@pytest.mark.django_db(transaction=True)  # the worker runs as it does, in its own transactions
def test_the_confirmation_is_in_the_inbox_only_once_it_was_sent(client, settings):
    """Tried: the page said "A confirmation is in your inbox" before the worker had sent
    it (with the worker stopped, for good)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    held = reservation_hold(
        puppy_slug=PuppyFactory(name="Rosie").slug,
        buyer=Buyer(name="Jane", email="jane@example.com", phone="+33 600000000"),
        provider="stripe",
    )
    with locked_transaction():
        locked = Reservation.objects.select_for_update().get(pk=held.pk)
        assert reservation_confirm(locked, payment_id="pi_test_inbox", actor="test")

    before = _html(client, held)
    run_worker_once()
    after = _html(client, held)

    assert "A confirmation is on its way to jane@example.com." in before
    assert "in your inbox" not in before
    assert [m.subject for m in mail.outbox if m.to == ["jane@example.com"]] == [
        "Your deposit for Rosie is confirmed"
    ]
    assert "A confirmation is in your inbox at jane@example.com." in after


def test_the_page_links_the_puppy_only_while_its_page_is_there(client):
    """Tried: a buyer's page linked a puppy the breeder had since unpublished, to a 404."""
    reservation = _confirmed()
    link = f'<a href="{reservation.puppy.get_absolute_url()}">Rosie</a>'
    assert link in _html(client, reservation)
    assert client.get(reservation.puppy.get_absolute_url()).status_code == 200

    Puppy.objects.filter(pk=reservation.puppy.pk).update(is_published=False)

    assert client.get(reservation.puppy.get_absolute_url()).status_code == 404
    html = _html(client, reservation)
    assert link not in html
    assert "<dd>Rosie, " in html


@pytest.mark.parametrize("status", S.values)
def test_the_status_page_reads_nothing_twice(client, status):
    """Asked: does the page read the reservation's audit rows twice? It reads them once for
    the timeline and once for a payment approved elsewhere (two different questions); this
    keeps any query from being asked twice in one page."""
    reservation = _confirmed() if status == S.CONFIRMED else ReservationFactory(status=status)

    with CaptureQueriesContext(connection) as queries:
        _html(client, reservation)

    asked = [q["sql"] for q in queries.captured_queries]
    assert len(asked) == len(set(asked)), asked
    assert sum("core_auditlog" in sql for sql in asked) <= 2
