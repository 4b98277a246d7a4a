"""Demo puppies for a fresh shop (`python -m kennel load_demo`).

Idempotent: puppies are keyed by slug and an existing one is left exactly as it is, so running
it twice (or after a buyer reserved a demo puppy) changes nothing.
"""

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from kennel.catalogue.images import photo_process
from kennel.catalogue.models import Litter, Puppy, PuppyPhoto
from kennel.core.models import audit
from kennel.ops.demo.photos import puppy_portrait
from kennel.reservations.models import Reservation

DATA_FILE = Path(__file__).with_name("puppies.json")
ACTOR = "system:load_demo"


@dataclass
class DemoSummary:
    litters: int = 0
    puppies_created: int = 0
    puppies_existing: int = 0
    photos: int = 0
    reservations: int = 0

    def __str__(self) -> str:
        return (
            f"Demo catalogue: {self.puppies_created} puppies added, "
            f"{self.puppies_existing} already there, in {self.litters} litters; "
            f"{self.photos} photos and {self.reservations} reservations created."
        )


def demo_load(*, today: date | None = None) -> DemoSummary:
    """Create the demo litters, puppies, photos and their reservations where missing."""
    today = today or timezone.localdate()
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    buyers = iter(data["buyers"])
    summary = DemoSummary()
    for litter_data in data["litters"]:
        summary.litters += 1
        litter = _litter(litter_data, today)
        for puppy_data in litter_data["puppies"]:
            state = puppy_data.get("state", Puppy.Status.AVAILABLE)
            buyer = next(buyers) if state != Puppy.Status.AVAILABLE else None
            if Puppy.objects.filter(slug=puppy_data["slug"]).exists():
                summary.puppies_existing += 1
                continue
            with transaction.atomic():
                puppy = _puppy(puppy_data, litter=litter, breed=litter_data["breed"])
                summary.photos += _photos(puppy, puppy_data)
                if buyer is not None:
                    _reservation(puppy, buyer)
                    summary.reservations += 1
            summary.puppies_created += 1
    return summary


def _litter(data: dict[str, Any], today: date) -> Litter:
    litter, _created = Litter.objects.get_or_create(
        name=data["name"],
        defaults={
            "dam": data["dam"],
            "sire": data["sire"],
            "born_on": today - timedelta(days=data["born_days_ago"]),
            "description": data["description"],
        },
    )
    return litter


def _puppy(data: dict[str, Any], *, litter: Litter, breed: str) -> Puppy:
    # Insert with its final status: the triggers only guard *changes* of a puppy's status, and
    # a reservation below is created after its puppy, as the triggers require.
    return Puppy.objects.create(
        slug=data["slug"],
        name=data["name"],
        litter=litter,
        breed=breed,
        sex=data["sex"],
        colour=data["colour"],
        born_on=litter.born_on,
        description=data["description"],
        price=Decimal(data["price"]),
        status=data.get("state", Puppy.Status.AVAILABLE),
    )


def _photos(puppy: Puppy, data: dict[str, Any]) -> int:
    pronoun = "her" if puppy.sex == Puppy.Sex.FEMALE else "his"
    alts = [
        f"Drawing of {puppy.name}, a {puppy.colour.lower()} {puppy.breed} puppy",
        f"Drawing of {puppy.name} tilting {pronoun} head, with a tennis ball",
    ]
    for variant in range(1, data["photos"] + 1):
        photo = PuppyPhoto(puppy=puppy, alt=alts[variant - 1], position=variant)
        content = puppy_portrait(
            name=puppy.name,
            breed=puppy.breed,
            colour=puppy.colour,
            background=data["background"],
            seed=puppy.slug,
            variant=variant,
        )
        # The same pipeline as an upload in the admin. A fixed key: loading again after the
        # database was reset rewrites the same files instead of adding copies.
        photo_process(photo=photo, upload=BytesIO(content), key=f"demo/{puppy.slug}-{variant}")
    return int(data["photos"])


def _reservation(puppy: Puppy, buyer: dict[str, str]) -> Reservation:
    """A paid reservation as the payment flow would have left it: confirmed for a reserved
    puppy, completed for a sold one."""
    now = timezone.now()
    sold = puppy.status == Puppy.Status.SOLD
    reservation = Reservation.objects.create(
        puppy=puppy,
        buyer_name=buyer["name"],
        buyer_email=buyer["email"],
        buyer_phone=buyer["phone"],
        deposit_amount=puppy.deposit,
        currency=puppy.currency,
        provider=Reservation.Provider.STRIPE,
        provider_reference=f"cs_demo_{puppy.slug}",
        external_payment_id=f"pi_demo_{puppy.slug}",
        status=Reservation.Status.COMPLETED if sold else Reservation.Status.CONFIRMED,
        expires_at=now,
        confirmed_at=now,
        closed_at=now if sold else None,
    )
    audit("reservations.reservation.confirmed", actor=ACTOR, obj=reservation, demo=True)
    if sold:
        audit("reservations.reservation.completed", actor=ACTOR, obj=reservation, demo=True)
    return reservation
