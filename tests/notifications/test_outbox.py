"""The outbox: side effects are written with the state change, once per dedup key, each with
its task, and only for what is switched on."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kennel.core.db import locked_transaction
from kennel.core.models import SideEffect
from kennel.core.outbox import outbox_enqueue, side_effect_run
from kennel.payments.fulfilment import payment_apply
from kennel.payments.providers import PaymentSnapshot, PaymentState
from kennel.reservations import services
from kennel.reservations.effects import Effect
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory
from tests.notifications.conftest import OWNER
from tests.notifications.helpers import confirm, drain, hold, statuses

pytestmark = pytest.mark.django_db
K = Effect
ALL_CONFIRMED = {
    K.OWNER_DEPOSIT: "pending",
    K.BUYER_CONFIRMATION: "pending",
    K.GA4_PURCHASE: "pending",
    K.META_PURCHASE: "pending",
}


def _snapshot(reservation: Reservation, state: PaymentState) -> PaymentSnapshot:
    return PaymentSnapshot(
        provider="stripe",
        reference="cs_test_1",
        state=state,
        reservation_id=str(reservation.pk),
        payment_id="pi_test_1",
        amount=reservation.deposit_amount,
        currency=reservation.currency,
    )


def test_a_confirmed_deposit_writes_four_side_effects_each_with_its_queued_task(
    owner, ga4_endpoint, meta_endpoint
):
    reservation = confirm(hold(PuppyFactory()))

    effects = list(SideEffect.objects.filter(reservation_id=reservation.pk))
    assert {e.kind: e.status for e in effects} == ALL_CONFIRMED
    recipients = {e.kind: e.recipient for e in effects}
    assert recipients[K.OWNER_DEPOSIT] == OWNER
    assert recipients[K.BUYER_CONFIRMATION] == "jane.doe@example.com"
    assert recipients[K.GA4_PURCHASE] == "ga4:G-TEST12345"
    assert recipients[K.META_PURCHASE] == "meta:1234567890123"
    for effect in effects:
        task = DBTaskResult.objects.get(id=effect.task_id)
        assert task.status == "READY"
        assert task.args_kwargs["args"] == [effect.pk]
        assert task.task_path == "kennel.core.outbox.side_effect_deliver"
        assert effect.dedup_key == f"{reservation.pk}:{effect.kind}:{effect.recipient.lower()}"


def test_a_state_change_that_rolls_back_leaves_no_side_effect_and_no_task(owner):
    reservation = hold(PuppyFactory())
    tasks_before = DBTaskResult.objects.count()

    def confirm_then_crash() -> None:
        with locked_transaction():
            locked = Reservation.objects.select_for_update().get(pk=reservation.pk)
            services.reservation_confirm(locked, payment_id="pi_1", actor="test")
            assert SideEffect.objects.count() == 2  # written, inside the transaction…
            raise RuntimeError("crash before COMMIT")

    with pytest.raises(RuntimeError):
        confirm_then_crash()

    assert SideEffect.objects.count() == 0  # …and gone with it
    assert DBTaskResult.objects.count() == tasks_before
    assert Reservation.objects.get(pk=reservation.pk).status == "pending"


def test_replaying_a_state_change_adds_no_side_effect(owner, ga4_endpoint, meta_endpoint):
    reservation = confirm(hold(PuppyFactory()))
    kinds = [K.OWNER_DEPOSIT, K.BUYER_CONFIRMATION, K.GA4_PURCHASE, K.META_PURCHASE]

    with transaction.atomic():
        again = outbox_enqueue(kinds=kinds, subject=reservation, reservation_id=reservation.pk)

    assert again == []
    assert SideEffect.objects.count() == 4
    assert DBTaskResult.objects.filter(status="READY").count() == 4


def test_the_database_refuses_a_second_row_with_the_same_dedup_key(owner):
    reservation = confirm(hold(PuppyFactory()))
    first = SideEffect.objects.get(kind=K.OWNER_DEPOSIT)

    with pytest.raises(IntegrityError), transaction.atomic():
        SideEffect.objects.create(
            reservation_id=reservation.pk,
            kind=K.OWNER_DEPOSIT,
            recipient=OWNER,
            dedup_key=first.dedup_key,
            next_attempt_at=timezone.now(),
        )


@pytest.mark.django_db(transaction=True)
def test_enqueueing_outside_the_state_change_transaction_is_refused(owner):
    reservation = hold(PuppyFactory())

    with pytest.raises(RuntimeError, match="transaction"):
        outbox_enqueue(
            kinds=[K.BUYER_CONFIRMATION], subject=reservation, reservation_id=reservation.pk
        )


def test_a_payment_going_to_processing_tells_the_buyer(owner):
    reservation = hold(PuppyFactory())

    payment_apply(snapshot=_snapshot(reservation, PaymentState.PROCESSING), actor="test")

    assert statuses(reservation) == {K.BUYER_PROCESSING: "pending"}


def test_a_failed_payment_tells_the_buyer(owner):
    reservation = hold(PuppyFactory())

    payment_apply(snapshot=_snapshot(reservation, PaymentState.FAILED), actor="test")

    assert statuses(reservation) == {K.BUYER_FAILED: "pending"}


def test_an_expired_hold_tells_the_buyer(owner):
    reservation = hold(PuppyFactory())
    Reservation.objects.filter(pk=reservation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert services.reservations_expire_due() == 1

    assert statuses(reservation) == {K.BUYER_EXPIRED: "pending"}


def test_a_hold_the_buyer_cancelled_sends_nothing(owner):
    reservation = hold(PuppyFactory())

    services.reservation_release(
        reservation_id=reservation.pk, status="cancelled", actor="buyer", reason="buyer_cancelled"
    )

    assert statuses(reservation) == {}


def test_a_late_payment_refund_tells_buyer_and_owner_once(owner):
    puppy = PuppyFactory()
    late = hold(puppy)
    Reservation.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    hold(puppy, email="other@example.com")  # expires the first hold and takes the puppy
    snapshot = _snapshot(late, PaymentState.PAID)

    for _ in range(3):
        payment_apply(snapshot=snapshot, actor="test")

    assert statuses(late) == {
        K.BUYER_EXPIRED: "pending",
        K.BUYER_REFUND: "pending",
        K.OWNER_REFUND: "pending",
    }
    refund = SideEffect.objects.get(kind=K.BUYER_REFUND)
    assert refund.data == {
        "amount": str(late.deposit_amount),
        "currency": "EUR",
        "reason": "late_payment",
        "payment_id": "pi_test_1",
    }
    assert refund.dedup_key.endswith(":pi_test_1")


def test_a_refund_of_the_confirmed_payment_tells_buyer_and_owner(owner):
    reservation = confirm(hold(PuppyFactory()), payment_id="pi_test_1")

    payment_apply(snapshot=_snapshot(reservation, PaymentState.REFUNDED), actor="test")

    assert Reservation.objects.get(pk=reservation.pk).status == "refunded"
    assert statuses(reservation) == {
        K.OWNER_DEPOSIT: "pending",
        K.BUYER_CONFIRMATION: "pending",
        K.BUYER_REFUND: "pending",
        K.OWNER_REFUND: "pending",
    }
    assert SideEffect.objects.get(kind=K.OWNER_REFUND).data["reason"] == "provider"


def test_without_owner_email_the_owner_gets_nothing(settings):
    settings.OWNER_EMAIL = ""

    reservation = confirm(hold(PuppyFactory()))

    assert statuses(reservation) == {K.BUYER_CONFIRMATION: "pending"}


@pytest.mark.django_db(transaction=True)
def test_without_consent_nothing_is_reported_even_when_ga4_and_meta_are_set_up(
    owner, ga4_endpoint, meta_endpoint
):
    reservation = confirm(hold(PuppyFactory(), consent=False))

    assert statuses(reservation) == {K.OWNER_DEPOSIT: "pending", K.BUYER_CONFIRMATION: "pending"}
    drain()
    assert ga4_endpoint.hits == []
    assert meta_endpoint.hits == []


def test_with_consent_but_no_settings_ga4_and_meta_are_off(owner, settings):
    settings.GA4_MEASUREMENT_ID = ""
    settings.META_ACCESS_TOKEN = ""

    reservation = confirm(hold(PuppyFactory()))

    assert set(statuses(reservation)) == {K.OWNER_DEPOSIT, K.BUYER_CONFIRMATION}


@pytest.mark.django_db(transaction=True)
def test_the_worker_delivers_each_side_effect_once_and_marks_it_sent(
    owner, ga4_endpoint, meta_endpoint
):
    reservation = confirm(hold(PuppyFactory(price=Decimal("2500.00"))))

    drain()
    drain()

    assert statuses(reservation) == dict.fromkeys(ALL_CONFIRMED, "sent")
    assert sorted(m.to[0] for m in mail.outbox) == sorted([OWNER, "jane.doe@example.com"])
    assert len(ga4_endpoint.accepted("/mp/collect")) == 1
    assert len(meta_endpoint.accepted("/events")) == 1
    for effect in SideEffect.objects.all():
        assert (effect.attempts, effect.last_error) == (1, "")
        assert effect.sent_at is not None


def test_a_side_effect_already_sent_is_not_sent_again_by_a_stray_task(owner):
    confirm(hold(PuppyFactory()))
    effect = SideEffect.objects.get(kind=K.BUYER_CONFIRMATION)

    assert side_effect_run(side_effect_id=effect.pk) == "sent"
    assert side_effect_run(side_effect_id=effect.pk) == "sent"

    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_ten_workers_running_one_side_effect_at_once_send_it_once(owner, threads):
    confirm(hold(PuppyFactory()))
    effect = SideEffect.objects.get(kind=K.BUYER_CONFIRMATION)

    results = threads(10, lambda i: side_effect_run(side_effect_id=effect.pk))

    assert len(mail.outbox) == 1
    assert sorted(results).count("sent") == 10 - results.count("sending")
    effect.refresh_from_db()
    assert (effect.status, effect.attempts) == ("sent", 1)
