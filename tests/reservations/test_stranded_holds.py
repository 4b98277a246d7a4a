"""A hold whose checkout never started does not stay. Whatever fails after the hold committed
(the provider, or the database while the checkout's reference is stored), the hold is released
at once; if even that release cannot be written, the worker's sweep releases it soon after.

The database failures are real: a PostgreSQL trigger, installed by the test, makes one UPDATE
fail — by terminating its own connection (as a connection storm or a restart would), or by
refusing the write."""

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from kennel.catalogue.models import Puppy
from kennel.core.models import AuditLog, SideEffect
from kennel.ops.periodic import run_sweeps
from kennel.payments.models import Refund
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation
from kennel.reservations.services import (
    STRANDED_AFTER,
    reservation_hold,
    reservation_set_checkout,
    reservations_release_stranded,
)
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory, ReservationFactory
from tests.payments.flow import settled
from tests.payments.stripe_helpers import choose, reserve

pytestmark = pytest.mark.django_db(transaction=True)

TABLE = Reservation._meta.db_table
FAIL_ONCE = """
CREATE FUNCTION kennel_test_fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A sequence is not rolled back with the failed statement: only the first write fails.
    IF nextval(TG_ARGV[0]::regclass) = 1 THEN
        IF TG_ARGV[1] = 'terminate' THEN
            PERFORM pg_terminate_backend(pg_backend_pid());
            PERFORM pg_sleep(10);  -- the termination lands here
        END IF;
        RAISE EXCEPTION 'kennel test: this write is refused';
    END IF;
    RETURN NEW;
END $$
"""
# The two writes that follow a hold: the checkout's reference, and the release of the hold.
REFERENCE_WRITE = ("provider_reference", "OLD.provider_reference IS NULL")
RELEASE_WRITE = ("status", "OLD.status = 'pending' AND NEW.status = 'cancelled'")


@pytest.fixture
def fail_once() -> Iterator[Callable[[str, tuple[str, str], str], None]]:
    """fail_once(name, write, how): the next UPDATE matching `write` (column, condition) on
    reservations fails — `how` = "terminate" (its connection is terminated) or "refuse"."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL triggers")
    names: list[str] = []

    def install(name: str, write: tuple[str, str], how: str) -> None:
        column, condition = write
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SEQUENCE kennel_test_{name}")
            cursor.execute(
                f"CREATE TRIGGER kennel_test_{name} BEFORE UPDATE OF {column} ON {TABLE} "
                f"FOR EACH ROW WHEN ({condition}) "
                f"EXECUTE FUNCTION kennel_test_fail_once('kennel_test_{name}', '{how}')"
            )
        names.append(name)

    with connection.cursor() as cursor:
        cursor.execute(FAIL_ONCE)
    try:
        yield install
    finally:
        with connection.cursor() as cursor:
            for name in names:
                cursor.execute(f"DROP TRIGGER IF EXISTS kennel_test_{name} ON {TABLE}")
                cursor.execute(f"DROP SEQUENCE IF EXISTS kennel_test_{name}")
            cursor.execute("DROP FUNCTION IF EXISTS kennel_test_fail_once()")


def _lost_checkout(sandbox, reservation: Reservation) -> dict:
    """The checkout the provider made for `reservation`, whose reference we never stored."""
    [session] = [
        s
        for s in sandbox.stripe.state.sessions.values()
        if s["metadata"].get("reservation_id") == str(reservation.pk)
    ]
    return session


@pytest.mark.parametrize(("how", "status"), [("terminate", 503), ("refuse", 500)])
def test_a_database_failure_storing_the_checkout_releases_the_hold_and_the_retry_gets_the_puppy(
    sandbox, live_server, fail_once, how, status
):
    puppy = PuppyFactory()
    fail_once("reference", REFERENCE_WRITE, how)

    first = reserve(live_server.url, puppy.slug)

    assert first.status_code == status, first.text
    if how == "terminate":  # a lost database is a 503 to retry, never a 500
        assert first.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
    [failed] = Reservation.objects.filter(puppy=puppy)
    assert failed.status == Reservation.Status.CANCELLED
    assert failed.status_reason == Reservation.Reason.CHECKOUT_NOT_STARTED
    assert failed.provider_reference is None
    assert AuditLog.objects.filter(
        object_id=str(failed.pk), action="reservations.reservation.cancelled"
    ).exists()
    puppy.refresh_from_db()
    assert puppy.status == Puppy.Status.AVAILABLE
    _lost_checkout(sandbox, failed)  # the provider did make one: we lost its reference

    again = reserve(live_server.url, puppy.slug)

    assert again.status_code == 201, again.text
    assert again.json()["provider_reference"].startswith("cs_")
    puppy.refresh_from_db()
    assert puppy.status == Puppy.Status.HELD
    assert Reservation.objects.get(puppy=puppy, status="pending").pk != failed.pk


def test_a_hold_whose_release_failed_too_is_released_by_the_sweep(sandbox, live_server, fail_once):
    puppy = PuppyFactory()
    fail_once("reference", REFERENCE_WRITE, "terminate")
    fail_once("release", RELEASE_WRITE, "terminate")  # the database is still away

    first = reserve(live_server.url, puppy.slug)

    assert first.status_code == 503, first.text
    [stranded] = Reservation.objects.filter(puppy=puppy)
    assert stranded.status == Reservation.Status.PENDING
    assert stranded.provider_reference is None
    # Until the sweep, the stranded hold keeps the puppy (as any hold would).
    assert reserve(live_server.url, puppy.slug).status_code == 409
    assert reservations_release_stranded() == 0  # too young: it could still be starting

    released = reservations_release_stranded(
        now=timezone.now() + STRANDED_AFTER + timedelta(seconds=1)
    )

    assert released == 1
    stranded.refresh_from_db()
    assert stranded.status == Reservation.Status.CANCELLED
    assert stranded.status_reason == Reservation.Reason.CHECKOUT_NOT_STARTED
    again = reserve(live_server.url, puppy.slug)
    assert again.status_code == 201, again.text


def test_a_payment_on_a_lost_checkout_after_the_puppy_went_to_another_buyer_is_refunded(
    sandbox, live_server, fail_once
):
    puppy = PuppyFactory()
    fail_once("reference", REFERENCE_WRITE, "refuse")
    assert reserve(live_server.url, puppy.slug).status_code == 500
    [lost] = Reservation.objects.filter(puppy=puppy)
    assert reserve(live_server.url, puppy.slug, n=2).status_code == 201

    # Nobody was sent to the lost checkout; should it be paid all the same, it is a late payment.
    choose(_lost_checkout(sandbox, lost)["url"], "pay")
    settled(sandbox, str(lost.pk))
    run_worker_once()

    lost.refresh_from_db()
    assert lost.status == Reservation.Status.CANCELLED
    assert lost.status_reason == Reservation.Reason.LATE_PAYMENT_REFUNDED
    assert Refund.objects.get(reservation=lost).reason == Refund.Reason.LATE_PAYMENT
    assert (
        Reservation.objects.get(puppy=puppy, status="pending").buyer_email == "buyer2@example.com"
    )


def _hold(puppy: Puppy, *, age: timedelta) -> Reservation:
    buyer = Buyer(name="Jane Doe", email=f"jane.{puppy.pk}@example.com", phone="+33 6 12 34 56")
    reservation = reservation_hold(puppy_slug=puppy.slug, buyer=buyer, provider="stripe")
    Reservation.objects.filter(pk=reservation.pk).update(created_at=timezone.now() - age)
    return reservation


def test_the_sweep_cancels_old_pending_holds_without_a_checkout_and_nothing_else():
    old = _hold(PuppyFactory(), age=timedelta(minutes=3))
    young = _hold(PuppyFactory(), age=timedelta(seconds=30))
    started = _hold(PuppyFactory(), age=timedelta(minutes=10))
    reservation_set_checkout(reservation=started, reference="cs_test_started")
    processing = ReservationFactory(status=Reservation.Status.PROCESSING)
    Reservation.objects.filter(pk=processing.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )

    assert reservations_release_stranded() == 1

    statuses = dict(Reservation.objects.values_list("pk", "status"))
    assert statuses == {
        old.pk: "cancelled",
        young.pk: "pending",
        started.pk: "pending",
        processing.pk: "processing",
    }
    old.refresh_from_db()
    assert old.status_reason == Reservation.Reason.CHECKOUT_NOT_STARTED
    assert old.closed_at is not None
    assert Puppy.objects.get(pk=old.puppy_id).status == Puppy.Status.AVAILABLE
    assert AuditLog.objects.filter(
        object_id=str(old.pk),
        action="reservations.reservation.cancelled",
        actor="system:release_stranded",
    ).exists()
    # The buyer saw the failure (no email), and there is no checkout of ours to close.
    assert not SideEffect.objects.filter(reservation_id=old.pk).exists()
    assert reservations_release_stranded() == 0


def test_the_worker_releases_stranded_holds_in_its_sweeps():
    stranded = _hold(PuppyFactory(), age=timedelta(minutes=5))

    results = run_sweeps()

    assert results["stranded holds released"] == 1
    stranded.refresh_from_db()
    assert stranded.status == Reservation.Status.CANCELLED
