"""The breeder's transitions in the state machine: guarded, idempotent, audited by name."""

from decimal import Decimal
from typing import Any

import pytest
from django.core import mail

from kennel.catalogue.models import Puppy
from kennel.core.db import locked_transaction
from kennel.core.errors import PuppyNotAvailable, PuppyNotFound, PuppyWentHome
from kennel.core.models import AuditLog, SideEffect
from kennel.payments.models import WebhookEvent
from kennel.payments.owner import RefundRefused, reservation_erase_buyer, reservation_refund
from kennel.payments.selectors import reservation_money
from kennel.reservations import services
from kennel.reservations.effects import Effect
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory
from tests.notifications.helpers import confirm, drain, hold

pytestmark = pytest.mark.django_db

STAFF = "staff:breeder"


@pytest.fixture
def owner(settings: Any) -> None:
    settings.OWNER_EMAIL = "owner@example.com"


def puppy_status(reservation: Reservation) -> tuple[str, bool]:
    puppy = Puppy.objects.get(reservations=reservation)
    return puppy.status, puppy.is_published


def test_picked_up_completes_the_reservation_and_sells_the_puppy_once():
    reservation = confirm(hold(PuppyFactory()))

    results = [
        services.reservation_mark_picked_up(reservation_id=reservation.pk, actor=STAFF)
        for _ in range(2)
    ]

    assert results == [True, False]
    reservation.refresh_from_db()
    assert (reservation.status, reservation.status_reason) == ("completed", "picked_up")
    assert puppy_status(reservation) == ("sold", True)
    [line] = AuditLog.objects.filter(action="reservations.reservation.completed")
    assert line.actor == STAFF


def test_only_a_confirmed_deposit_can_be_picked_up():
    reservation = hold(PuppyFactory())

    assert not services.reservation_mark_picked_up(reservation_id=reservation.pk, actor=STAFF)
    assert Reservation.objects.get(pk=reservation.pk).status == "pending"


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_releasing_a_hold_frees_the_puppy_and_tells_the_buyer(owner, status):
    reservation = hold(PuppyFactory())
    Reservation.objects.filter(pk=reservation.pk).update(provider_reference="cs_test_1")
    if status == "processing":
        with locked_transaction():
            locked = Reservation.objects.select_for_update().get(pk=reservation.pk)
            assert services.reservation_mark_processing(locked, actor="test")

    assert services.reservation_release_hold(reservation_id=reservation.pk, actor=STAFF)
    assert not services.reservation_release_hold(reservation_id=reservation.pk, actor=STAFF)

    reservation.refresh_from_db()
    assert (reservation.status, reservation.status_reason) == ("cancelled", "owner_released")
    assert puppy_status(reservation) == ("available", True)
    kinds = set(SideEffect.objects.values_list("kind", flat=True))
    assert {Effect.BUYER_RELEASED, Effect.CHECKOUT_CLOSE} <= kinds


def test_the_buyer_cannot_cancel_a_payment_that_started():
    reservation = hold(PuppyFactory())
    with locked_transaction():
        locked = Reservation.objects.select_for_update().get(pk=reservation.pk)
        services.reservation_mark_processing(locked, actor="test")

    cancelled = services.reservation_release(
        reservation_id=reservation.pk, status="cancelled", actor="buyer", reason="buyer_cancelled"
    )

    assert not cancelled
    assert Reservation.objects.get(pk=reservation.pk).status == "processing"


@pytest.mark.django_db(transaction=True)  # the worker runs the emails in its own transactions
def test_a_resent_confirmation_goes_once_per_request(owner):
    reservation = confirm(hold(PuppyFactory()))
    drain()
    mail.outbox.clear()

    sent = [
        services.reservation_resend_confirmation(
            reservation_id=reservation.pk, actor=STAFF, request_key=key
        )
        for key in ("form-1", "form-1", "form-2")
    ]
    drain()

    assert sent == [True, False, True]
    assert [m.to for m in mail.outbox] == [[reservation.buyer_email]] * 2
    assert "is confirmed" in mail.outbox[0].subject


def test_nothing_is_resent_for_a_hold_without_a_deposit():
    reservation = hold(PuppyFactory())

    assert not services.reservation_resend_confirmation(
        reservation_id=reservation.pk, actor=STAFF, request_key="k"
    )


def test_a_puppy_taken_off_sale_leaves_the_shop_and_comes_back_available():
    puppy = PuppyFactory()

    assert services.puppy_take_off_sale(puppy_id=puppy.pk, actor=STAFF)
    assert not services.puppy_take_off_sale(puppy_id=puppy.pk, actor=STAFF)
    assert not Puppy.objects.get(pk=puppy.pk).is_published
    with pytest.raises(PuppyNotFound):
        hold(puppy)

    assert services.puppy_put_on_sale(puppy_id=puppy.pk, actor=STAFF)
    assert hold(puppy).status == "pending"
    actions = AuditLog.objects.filter(object_id=str(puppy.pk), actor=STAFF)
    assert set(actions.values_list("action", flat=True)) == {
        "catalogue.puppy.off_sale",
        "catalogue.puppy.on_sale",
    }


def test_a_puppy_that_went_home_is_never_put_on_sale_a_second_time():
    # Tried from the back office: "Put on sale (again)" on a puppy its family had picked up
    # made it available, and a second buyer paid a deposit for it.
    reservation = confirm(hold(PuppyFactory()))
    services.reservation_mark_picked_up(reservation_id=reservation.pk, actor=STAFF)

    with pytest.raises(PuppyWentHome) as refused:
        services.puppy_put_on_sale(puppy_id=reservation.puppy_id, actor=STAFF)

    assert refused.value.code == "PUPPY_WENT_HOME"
    assert puppy_status(reservation) == ("sold", True)
    with pytest.raises(PuppyNotAvailable):
        hold(Puppy.objects.get(pk=reservation.puppy_id), email="other@example.com")
    assert not AuditLog.objects.filter(action="catalogue.puppy.available").exists()


def test_a_puppy_that_came_back_goes_on_sale_once_its_sale_is_refunded():
    reservation = confirm(hold(PuppyFactory()))
    services.reservation_mark_picked_up(reservation_id=reservation.pk, actor=STAFF)
    reservation_refund(
        reservation_id=reservation.pk,
        actor=STAFF,
        amount_kept=Decimal("50.00"),
        puppy_available=False,
    )

    assert services.puppy_put_on_sale(puppy_id=reservation.puppy_id, actor=STAFF)

    assert puppy_status(reservation) == ("available", True)
    assert hold(Puppy.objects.get(pk=reservation.puppy_id), email="next@example.com")


def test_a_held_puppy_stays_held_when_put_on_sale():
    reservation = hold(PuppyFactory())

    assert not services.puppy_put_on_sale(puppy_id=reservation.puppy_id, actor=STAFF)
    assert puppy_status(reservation) == ("held", True)
    with pytest.raises(PuppyNotAvailable):
        hold(Puppy.objects.get(pk=reservation.puppy_id), email="other@example.com")


def test_erasing_a_buyer_replaces_their_data_and_keeps_the_money_and_the_trail(owner):
    reservation = confirm(hold(PuppyFactory()))
    email = reservation.buyer_email
    WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_1",
        type="checkout.session.completed",
        body=f'{{"payment_intent": "pi_test_1", "customer_email": "{email}"}}',
    )
    with pytest.raises(RefundRefused):
        reservation_erase_buyer(reservation_id=reservation.pk, actor=STAFF)
    services.reservation_mark_picked_up(reservation_id=reservation.pk, actor=STAFF)

    assert reservation_erase_buyer(reservation_id=reservation.pk, actor=STAFF)
    assert not reservation_erase_buyer(reservation_id=reservation.pk, actor=STAFF)

    erased = Reservation.objects.get(pk=reservation.pk)
    assert erased.buyer_name == "Erased buyer"
    assert email not in erased.buyer_email
    assert (erased.buyer_phone, erased.client_ip, erased.client_user_agent) == ("erased", None, "")
    assert (erased.deposit_amount, erased.status) == (reservation.deposit_amount, "completed")
    assert email not in WebhookEvent.objects.get(event_id="evt_1").body
    assert not SideEffect.objects.filter(recipient=email).exists()
    assert not SideEffect.objects.filter(dedup_key__contains=email).exists()
    assert AuditLog.objects.filter(object_id=str(reservation.pk)).count() >= 3


def test_refunding_a_picked_up_puppy_leaves_it_sold(owner):
    reservation = confirm(hold(PuppyFactory()))
    services.reservation_mark_picked_up(reservation_id=reservation.pk, actor=STAFF)

    reservation_refund(reservation_id=reservation.pk, actor=STAFF, puppy_available=True)

    assert Reservation.objects.get(pk=reservation.pk).status == "refunded"
    assert puppy_status(reservation) == ("sold", True)


def test_the_price_is_the_one_agreed_when_the_puppy_was_reserved(owner):
    reservation = confirm(hold(PuppyFactory(price="2000.00", deposit="400.00")))
    Puppy.objects.filter(pk=reservation.puppy_id).update(price="3000.00")

    money = reservation_money(Reservation.objects.select_related("puppy").get(pk=reservation.pk))

    assert (money.price, money.balance_due) == (Decimal("2000.00"), Decimal("1600.00"))
