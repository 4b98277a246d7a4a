"""Demo puppies, pages and parents for a fresh shop (`python -m kennel load_demo`): three
litters on sale puppy by puppy, and a young one whose families join its waiting list.

Idempotent: puppies and parents are keyed by slug, pages by kind, and an existing one is left
exactly as it is (the breeder may have edited it), so running it twice (or after a buyer
reserved a demo puppy) changes nothing.
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

from kennel.catalogue.content import parent_photo_process, terms_version_current
from kennel.catalogue.images import photo_process
from kennel.catalogue.models import Dog, DogPhoto, Litter, Page, Puppy, PuppyPhoto
from kennel.core.models import audit
from kennel.ops.demo import content
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
    pages: int = 0
    parents: int = 0

    def __str__(self) -> str:
        return (
            f"Demo catalogue: {self.puppies_created} puppies added, "
            f"{self.puppies_existing} already there, in {self.litters} litters; "
            f"{self.photos} photos and {self.reservations} reservations created; "
            f"{self.pages} pages and {self.parents} parents added."
        )


def demo_load(*, today: date | None = None) -> DemoSummary:
    """Create the demo litters, puppies, photos and their reservations where missing."""
    today = today or timezone.localdate()
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    buyers = iter(data["buyers"])
    summary = DemoSummary()
    summary.pages = _pages()
    summary.parents = _parents(today)
    for litter_data in data["litters"]:
        summary.litters += 1
        litter = _litter(litter_data, today)
        _link_parents(litter)
        for puppy_data in litter_data["puppies"]:
            state = puppy_data.get("state", Puppy.Status.AVAILABLE)
            buyer = next(buyers) if state != Puppy.Status.AVAILABLE else None
            if Puppy.objects.filter(slug=puppy_data["slug"]).exists():
                summary.puppies_existing += 1
                continue
            with transaction.atomic():
                puppy = _puppy(
                    puppy_data,
                    litter=litter,
                    breed=litter_data["breed"],
                    born_on=litter.born_on or _born_on(litter_data, today),
                )
                summary.photos += _photos(puppy, puppy_data)
                if buyer is not None:
                    _reservation(puppy, buyer)
                    summary.reservations += 1
            summary.puppies_created += 1
    return summary


def _litter(data: dict[str, Any], today: date) -> Litter:
    """The litter by name, as the breeder may have edited it; a new one with its waiting list
    (open, refundable deposit) when the data gives one."""
    defaults: dict[str, Any] = {
        "slug": data["slug"],
        "dam": data["dam"],
        "sire": data["sire"],
        "born_on": _born_on(data, today),
        "stage": Litter.Stage.BORN,
        "description": data["description"],
    }
    wait = data.get("waiting_list")
    if wait is not None:
        defaults |= {
            "go_home_on": today + timedelta(days=wait["go_home_in_days"]),
            "usual_price": Decimal(wait["usual_price"]),
            "waitlist_open": True,
            "deposit_terms": wait["deposit_terms"],
            "refund_days": wait["refund_days"],
        }
    # By its address first: the breeder may have renamed it (its slug is then still taken).
    litter = (
        Litter.objects.filter(slug=data["slug"]).first()
        or Litter.objects.filter(name=data["name"]).first()
    )
    return litter or Litter.objects.create(name=data["name"], **defaults)


def _born_on(data: dict[str, Any], today: date) -> date:
    return today - timedelta(days=data["born_days_ago"])


def _puppy(data: dict[str, Any], *, litter: Litter, breed: str, born_on: date) -> Puppy:
    # Insert with its final status: the triggers only guard *changes* of a puppy's status, and
    # a reservation below is created after its puppy, as the triggers require. A puppy of a
    # litter with a waiting list is not offered on its own ("published": false): its families
    # choose when picking opens.
    return Puppy.objects.create(
        slug=data["slug"],
        name=data["name"],
        litter=litter,
        breed=breed,
        sex=data["sex"],
        colour=data["colour"],
        born_on=born_on,
        description=data["description"],
        price=Decimal(data["price"]),
        status=data.get("state", Puppy.Status.AVAILABLE),
        is_published=data.get("published", True),
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
        terms_version=terms_version_current(),
    )
    audit("reservations.reservation.confirmed", actor=ACTOR, obj=reservation, demo=True)
    if sold:
        audit("reservations.reservation.completed", actor=ACTOR, obj=reservation, demo=True)
    return reservation


def _pages() -> int:
    """The example about, parents, FAQ, terms, privacy and imprint pages, where missing."""
    added = 0
    for kind, page in content.PAGES.items():
        version = content.TERMS_VERSION if kind == Page.Kind.TERMS else ""
        _page, created = Page.objects.get_or_create(
            kind=kind, defaults={"title": page["title"], "body": page["body"], "version": version}
        )
        added += created
    return added


def _parents(today: date) -> int:
    """The litters' mothers and fathers, each with a drawn portrait, where missing."""
    added = 0
    for data in content.PARENTS:
        if Dog.objects.filter(slug=data["slug"]).exists():
            continue
        with transaction.atomic():
            dog = Dog.objects.create(
                slug=data["slug"],
                name=data["name"],
                sex=data["sex"],
                breed=data["breed"],
                born_on=today - timedelta(days=365 * data["born_years_ago"]),
                description=data["description"],
                health_tests=data["health_tests"],
                position=added,
            )
            picture = puppy_portrait(
                name=data["call_name"],
                breed=dog.breed,
                colour=data["colour"],
                background=data["background"],
                seed=dog.slug,
            )
            photo = DogPhoto(dog=dog, alt=f"Drawing of {dog.name}, {dog.breed}", position=1)
            # A fixed key: loading again after a database reset rewrites the same files.
            parent_photo_process(photo=photo, upload=BytesIO(picture), key=f"demo/{dog.slug}")
        added += 1
    return added


def _link_parents(litter: Litter) -> None:
    """Point the litter at its parents' entries by name, unless the breeder already did."""
    for field, name in (("dam_dog", litter.dam), ("sire_dog", litter.sire)):
        dog = Dog.objects.filter(name=name).first()
        if dog is not None and getattr(litter, f"{field}_id") is None:
            Litter.objects.filter(pk=litter.pk).update(**{field: dog})
