"""Factories for the tests. Objects are made the way the app makes them (services for states)."""

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from kennel.catalogue.models import Litter, Puppy
from kennel.reservations.models import Reservation


class LitterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Litter

    name = factory.Sequence(lambda n: f"Litter {n}")
    slug = factory.Sequence(lambda n: f"litter-{n}")
    dam = "Bella"
    sire = "Max"
    born_on = factory.LazyFunction(lambda: date.today() - timedelta(weeks=9))

    class Params:
        # A litter ready to go home in a week, its waiting list open for 300.00 EUR deposits.
        open_list = factory.Trait(
            stage=Litter.Stage.READY,
            born_on=factory.LazyFunction(lambda: date.today() - timedelta(weeks=8)),
            go_home_on=factory.LazyAttribute(lambda o: o.born_on + timedelta(weeks=9)),
            waitlist_open=True,
            waitlist_deposit=Decimal("300.00"),
        )


class PuppyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Puppy

    slug = factory.Sequence(lambda n: f"puppy-{n}")
    name = factory.Sequence(lambda n: f"Puppy {n}")
    litter = factory.SubFactory(LitterFactory)
    breed = "Golden Retriever"
    sex = Puppy.Sex.FEMALE
    colour = "Golden"
    born_on = factory.LazyAttribute(lambda o: o.litter.born_on if o.litter else date.today())
    price = Decimal("2000.00")
    currency = "EUR"


class ReservationFactory(factory.django.DjangoModelFactory):
    """A reservation row as the hold service would write it. The puppy is put in the state
    the database triggers require for the reservation's status."""

    class Meta:
        model = Reservation

    puppy = factory.SubFactory(PuppyFactory)
    buyer_name = "Jane Doe"
    buyer_email = "jane.doe@example.com"
    buyer_phone = "+33 6 12 34 56 78"
    deposit_amount = factory.LazyAttribute(lambda o: o.puppy.deposit)
    currency = factory.LazyAttribute(lambda o: o.puppy.currency)
    provider = Reservation.Provider.STRIPE
    status = Reservation.Status.PENDING
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=30))

    @classmethod
    def _create(
        cls, model_class: type[Reservation], *args: object, **kwargs: object
    ) -> Reservation:
        puppy = kwargs["puppy"]
        status = kwargs.get("status", Reservation.Status.PENDING)
        needed = {
            Reservation.Status.PENDING: Puppy.Status.HELD,
            Reservation.Status.PROCESSING: Puppy.Status.HELD,
            Reservation.Status.CONFIRMED: Puppy.Status.RESERVED,
        }.get(status)  # type: ignore[call-overload]
        if needed:
            Puppy.objects.filter(pk=puppy.pk).update(status=needed)  # type: ignore[attr-defined]
            puppy.status = needed  # type: ignore[attr-defined]
        return super()._create(model_class, *args, **kwargs)
