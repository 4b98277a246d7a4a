"""Invariant 1: one active reservation per puppy, whoever races for it (DESIGN.md)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from kennel.catalogue.models import Puppy
from kennel.core.errors import PuppyNotAvailable, PuppyNotFound, ValidationFailed
from kennel.reservations.buyers import Buyer, buyer_validate
from kennel.reservations.models import Reservation
from kennel.reservations.services import reservation_hold, reservations_expire_due
from tests.factories import PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.race
def test_fifty_buyers_racing_for_one_puppy_get_one_hold(threads, buyer):
    puppy = PuppyFactory()

    def reserve(i: int) -> Reservation:
        b = Buyer(name=f"Buyer {i}", email=f"buyer{i}@example.com", phone="+33 600000000")
        return reservation_hold(puppy_slug=puppy.slug, buyer=b, provider="stripe")

    results = threads(50, reserve)

    holds = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, PuppyNotAvailable)]
    others = [r for r in results if not isinstance(r, (Reservation, PuppyNotAvailable))]
    assert others == []
    assert len(holds) == 1
    assert len(refused) == 49
    assert all(r.code == "PUPPY_NOT_AVAILABLE" for r in refused)
    assert Reservation.objects.filter(puppy=puppy).count() == 1
    puppy.refresh_from_db()
    assert puppy.status == Puppy.Status.HELD


@pytest.mark.race
def test_holds_on_different_puppies_in_parallel_all_succeed(threads):
    puppies = [PuppyFactory() for _ in range(12)]

    def reserve(i: int) -> Reservation:
        b = Buyer(name=f"Buyer {i}", email=f"buyer{i}@example.com", phone="+33 600000000")
        return reservation_hold(puppy_slug=puppies[i].slug, buyer=b, provider="stripe")

    results = threads(12, reserve)

    assert all(isinstance(r, Reservation) for r in results), results
    assert Reservation.objects.filter(status="pending").count() == 12
    assert set(Puppy.objects.values_list("status", flat=True)) == {"held"}


@pytest.mark.race
def test_an_expired_hold_is_released_by_the_next_buyer_racing_with_others(threads):
    old = ReservationFactory(expires_at=timezone.now() - timedelta(minutes=1))

    def reserve(i: int) -> Reservation:
        b = Buyer(name=f"Buyer {i}", email=f"buyer{i}@example.com", phone="+33 600000000")
        return reservation_hold(puppy_slug=old.puppy.slug, buyer=b, provider="stripe")

    results = threads(20, reserve)

    assert sum(isinstance(r, Reservation) for r in results) == 1
    assert sum(isinstance(r, PuppyNotAvailable) for r in results) == 19
    old.refresh_from_db()
    assert old.status == Reservation.Status.EXPIRED
    assert Reservation.objects.filter(puppy=old.puppy, status="pending").count() == 1


@pytest.mark.race
def test_a_second_active_reservation_inserted_with_sql_is_refused_by_the_database():
    first = ReservationFactory()
    table = Reservation._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, puppy_id, buyer_name, buyer_email, buyer_phone,"
            " deposit_amount, currency, provider, status, status_reason, expires_at, token,"
            " created_at, updated_at) VALUES (%s, %s, 'Eve', 'eve@example.com', '0600000000',"
            " 100, 'EUR', 'stripe', 'pending', '', %s, 'tok-eve', %s, %s)",
            [
                "6b0e5a84-7c55-4d84-8a1e-0c2c5c8a0001",
                first.puppy_id,
                timezone.now(),
                timezone.now(),
                timezone.now(),
            ],
        )
    assert Reservation.objects.filter(puppy=first.puppy).count() == 1


@pytest.mark.race
def test_an_active_reservation_for_an_available_puppy_is_refused_by_the_database():
    puppy = PuppyFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.create(
            puppy=puppy,
            buyer_name="Eve",
            buyer_email="eve@example.com",
            buyer_phone="0600000000",
            deposit_amount=puppy.deposit,
            currency="EUR",
            provider="stripe",
            expires_at=timezone.now() + timedelta(minutes=30),
        )
    assert not Reservation.objects.exists()


@pytest.mark.race
def test_a_held_puppy_cannot_be_made_available_behind_its_reservation():
    reservation = ReservationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Puppy.objects.filter(pk=reservation.puppy_id).update(status="available")
    reservation.puppy.refresh_from_db()
    assert reservation.puppy.status == "held"


def test_a_hold_copies_the_deposit_from_the_puppy_and_expires_after_hold_minutes(buyer, settings):
    settings.HOLD_MINUTES = 45
    puppy = PuppyFactory(price=Decimal("2500.00"), deposit=Decimal("400.00"), currency="EUR")
    before = timezone.now()
    reservation = reservation_hold(puppy_slug=puppy.slug, buyer=buyer, provider="stripe")
    assert reservation.deposit_amount == puppy.deposit
    assert reservation.currency == "EUR"
    assert reservation.status == "pending"
    expected = before + timedelta(minutes=45)
    assert expected <= reservation.expires_at <= expected + timedelta(seconds=5)


def test_an_unknown_or_unpublished_puppy_cannot_be_held(buyer):
    hidden = PuppyFactory(is_published=False)
    for slug in ("no-such-puppy", hidden.slug):
        with pytest.raises(PuppyNotFound):
            reservation_hold(puppy_slug=slug, buyer=buyer, provider="stripe")
    assert not Reservation.objects.exists()


def test_the_sweep_expires_only_pending_holds_past_their_time():
    due = ReservationFactory(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = ReservationFactory()
    processing = ReservationFactory(
        status="processing", expires_at=timezone.now() - timedelta(hours=1)
    )

    assert reservations_expire_due() == 1

    due.refresh_from_db()
    due.puppy.refresh_from_db()
    assert due.status == "expired"
    assert due.puppy.status == "available"
    fresh.refresh_from_db()
    processing.refresh_from_db()
    assert (fresh.status, processing.status) == ("pending", "processing")
    assert reservations_expire_due() == 0


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "Jane\r\nBcc: x@example.com"}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"phone": ""}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"phone": "1" * 40}, "phone"),
    ],
)
def test_bad_buyer_details_are_refused_field_by_field(fields, bad):
    data = {
        "name": "Jane Doe",
        "email": "jane@example.com",
        "phone": "+33 6 12 34 56 78",
        "accepted_terms": True,
    }
    with pytest.raises(ValidationFailed) as caught:
        buyer_validate(**{**data, **fields})
    assert caught.value.code == "VALIDATION_ERROR"
    assert list(caught.value.extra["fields"]) == [bad]
