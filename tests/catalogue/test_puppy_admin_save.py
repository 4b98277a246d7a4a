"""The breeder saves a puppy while families reserve it; and types amounts no provider can
charge. Tried: a save wrote back the status the page had read — on PostgreSQL a hold made
meanwhile made the save fail with a 500, a release made meanwhile left the puppy held for
nobody — and a price of 0, a JPY deposit of 0.4 or a litter's usual price of -100 were
accepted by the form, then refused by the database (500), or offered families a 0.00 list."""

import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models.signals import pre_save
from django.urls import reverse
from PIL import Image

from kennel.catalogue.models import Litter, Puppy
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation
from kennel.reservations.services import reservation_hold, reservation_release
from tests.catalogue.test_photos import change_puppy
from tests.factories import LitterFactory, PuppyFactory

BUYER = Buyer(name="Ann Lee", email="ann@example.com", phone="+33 6 12 34 56 78")


@pytest.fixture
def meanwhile() -> Iterator[Callable[[Callable[[], Any]], None]]:
    """`meanwhile(work)`: while the back office saves a puppy (after it read it, before it
    writes it), `work` runs and commits in another thread, on its own connection."""
    jobs: list[Callable[[], Any]] = []

    def run(sender: Any, instance: Puppy, **kwargs: Any) -> None:
        while jobs:
            job = jobs.pop()
            thread = threading.Thread(target=_committed, args=(job,))
            thread.start()
            thread.join()

    pre_save.connect(run, sender=Puppy)
    yield jobs.append
    pre_save.disconnect(run, sender=Puppy)


def _committed(job: Callable[[], Any]) -> None:
    try:
        job()
    finally:
        connection.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs one writer at a time")
@pytest.mark.django_db(transaction=True)
def test_a_hold_made_while_the_breeder_saves_the_puppy_stands(admin_client, meanwhile):
    puppy = PuppyFactory(description="Calm.")
    meanwhile(lambda: reservation_hold(puppy_slug=puppy.slug, buyer=BUYER, provider="stripe"))

    saved = change_puppy(admin_client, puppy, [], description="Calm, loves children.")

    assert saved.status_code == 302
    puppy.refresh_from_db()
    assert (puppy.status, puppy.description) == ("held", "Calm, loves children.")
    assert Reservation.objects.get(puppy=puppy).status == "pending"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs one writer at a time")
@pytest.mark.django_db(transaction=True)
def test_a_hold_released_while_the_breeder_saves_the_puppy_leaves_it_available(
    admin_client, meanwhile
):
    puppy = PuppyFactory()
    hold = reservation_hold(puppy_slug=puppy.slug, buyer=BUYER, provider="stripe")
    meanwhile(
        lambda: reservation_release(
            reservation_id=hold.pk,
            status="cancelled",
            actor="buyer",
            reason=Reservation.Reason.BUYER_CANCELLED,
        )
    )

    saved = change_puppy(admin_client, puppy, [], description="Playful.")

    assert saved.status_code == 302
    puppy.refresh_from_db()
    assert (puppy.status, puppy.description) == ("available", "Playful.")


def large_png(side: int = 5000) -> bytes:
    """A 25-megapixel PNG (a few hundred kB on disk: one colour): seconds of decoding and
    resizing, like a camera's full-size export."""
    buffer = BytesIO()
    Image.new("RGB", (side, side), (200, 160, 90)).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def when_the_puppy_row_is_written(written: threading.Event) -> Callable[..., Any]:
    """A connection's execute wrapper: `written` is set once that connection has updated the
    puppy's row, which its transaction then holds until it ends."""
    table = f'UPDATE "{Puppy._meta.db_table}"'

    def observe(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        result = execute(sql, *args)
        if sql.startswith(table):
            written.set()
        return result

    return observe


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_a_hold_made_while_the_breeder_uploads_a_large_photo_does_not_wait_for_its_resizing(
    admin_client, settings, tmp_path
):
    """Tried on SQLite: a buyer's hold waited 3 s behind four 49-megapixel photos saved in the
    back office, whose transaction held the write lock while each was decoded and resized."""
    settings.MEDIA_ROOT = tmp_path
    puppy = PuppyFactory(description="Calm.")
    photo = SimpleUploadedFile("IMG_0001.png", large_png(), content_type="image/png")
    written = threading.Event()
    saved: dict[str, Any] = {}

    def breeder_saves() -> None:
        try:
            with connection.execute_wrapper(when_the_puppy_row_is_written(written)):
                started = time.monotonic()
                saved["answer"] = change_puppy(
                    admin_client,
                    puppy,
                    [{"alt": "Bella", "file": photo}],
                    description="Calm, loves children.",
                )
                saved["seconds"] = time.monotonic() - started
        finally:
            written.set()
            connection.close()

    breeder = threading.Thread(target=breeder_saves)
    breeder.start()
    assert written.wait(timeout=120)
    started = time.monotonic()
    try:  # on PostgreSQL a hold that waits LOCK_TIMEOUT_SECONDS gives up: 503, "busy"
        hold = reservation_hold(puppy_slug=puppy.slug, buyer=BUYER, provider="stripe")
    finally:
        waited = time.monotonic() - started
        breeder.join(timeout=120)

    assert saved["answer"].status_code == 302, saved["answer"].content.decode()[:2000]
    assert hold.status == "pending"
    puppy.refresh_from_db()
    assert (puppy.status, puppy.description) == ("held", "Calm, loves children.")
    assert puppy.photos.get().variants[-1]["width"] == 1600
    # The save took its seconds (the photo's decoding and resizing); the hold did not wait
    # for them, only for the rows and files written once they were done.
    assert waited < saved["seconds"] / 4, (waited, saved["seconds"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"price": "0", "deposit": ""}, "price", "The price must be more than 0 EUR."),
        ({"price": "-5", "deposit": ""}, "price", "The price must be more than 0 EUR."),
        (
            {"currency": "JPY", "price": "200000", "deposit": "0.4"},
            "deposit",
            "The deposit must be at least 1 JPY.",
        ),
        (
            {"price": "1000", "deposit": "1500"},
            "deposit",
            "The deposit cannot be more than the price (1000.00 EUR).",
        ),
        # Tried: a 1,200,000 EUR deposit was saved, and its buyers read "the payment service
        # could not be reached" when Stripe refused it (at most 8 digits of cents).
        (
            {"price": "1500000", "deposit": "1200000"},
            "price",
            "The price must be at most 999999.99 EUR, the largest payment Stripe takes (PayPal "
            "takes as much).",
        ),
        (
            {"currency": "HUF", "price": "1000000", "deposit": ""},
            "price",
            "The price must be at most 999999 HUF, the largest payment Stripe takes (PayPal "
            "takes as much).",
        ),
        # Tried: a JPY price of 1000.5 was saved as 1001, while 1000.555 EUR was refused.
        (
            {"currency": "JPY", "price": "1000.5", "deposit": ""},
            "price",
            "The price has more decimal places than JPY has (0).",
        ),
        (
            {"currency": "JPY", "price": "200000", "deposit": "30000.5"},
            "deposit",
            "The deposit has more decimal places than JPY has (0).",
        ),
    ],
)
def test_amounts_no_provider_can_charge_are_refused_under_their_field(
    admin_client, changes, field, message
):
    puppy = PuppyFactory(price=Decimal("2000.00"), deposit=Decimal("400.00"))

    answer = change_puppy(admin_client, puppy, [], **changes)

    assert answer.status_code == 200  # the form again
    assert answer.context["adminform"].form.errors[field] == [message]
    puppy.refresh_from_db()
    assert (puppy.price, puppy.deposit, puppy.currency) == (
        Decimal("2000.00"),
        Decimal("400.00"),
        "EUR",
    )


@pytest.mark.django_db
def test_a_jpy_puppy_gets_a_deposit_it_can_be_charged(admin_client, settings):
    settings.DEPOSIT_SHARE = 0.2
    puppy = PuppyFactory()

    answer = change_puppy(admin_client, puppy, [], currency="JPY", price="3", deposit="")

    assert answer.status_code == 302
    puppy.refresh_from_db()
    assert (puppy.price, puppy.deposit, puppy.currency) == (Decimal(3), Decimal(1), "JPY")


def litter_form(client: Any, litter: Litter, **changes: Any) -> dict[str, Any]:
    """The litter's back-office form as its page fills it in, its inlines included, with
    `changes`."""
    page = client.get(reverse("admin:catalogue_litter_change", args=[litter.pk]))
    form = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if value is not None and not isinstance(value, list) and name not in ("dam_dog", "sire_dog")
    }
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        form |= {management.add_prefix(k): str(v) for k, v in management.initial.items()}
    return {**form, "waitlist_open": "on", **changes}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"usual_price": "-100"}, "usual_price", "The usual price must be more than 0 EUR."),
        ({"usual_price": "0"}, "usual_price", "The usual price must be more than 0 EUR."),
        (
            {"currency": "JPY", "waitlist_deposit": "0.4"},
            "waitlist_deposit",
            "The waiting list deposit must be at least 1 JPY, or empty to use the share of "
            "the usual price.",
        ),
        (
            {"waitlist_deposit": "1200000"},
            "waitlist_deposit",
            "The waiting list deposit must be at most 999999.99 EUR, the largest payment Stripe "
            "takes (PayPal takes as much).",
        ),
        (
            {"usual_price": "1200000"},
            "usual_price",
            "The usual price must be at most 999999.99 EUR, the largest payment Stripe takes "
            "(PayPal takes as much).",
        ),
        (
            {"currency": "JPY", "usual_price": "450000.5"},
            "usual_price",
            "The usual price has more decimal places than JPY has (0).",
        ),
        (
            {"currency": "JPY", "waitlist_deposit": "50000.5"},
            "waitlist_deposit",
            "The waiting list deposit has more decimal places than JPY has (0).",
        ),
    ],
)
def test_a_litters_list_is_never_offered_for_nothing(admin_client, changes, field, message):
    litter = LitterFactory()

    answer = admin_client.post(
        reverse("admin:catalogue_litter_change", args=[litter.pk]),
        litter_form(admin_client, litter, **changes),
    )

    assert answer.status_code == 200, answer.content.decode()[:500]
    assert answer.context["adminform"].form.errors[field] == [message]
    assert Litter.objects.get(pk=litter.pk).usual_price == litter.usual_price


@pytest.mark.django_db
def test_a_puppy_is_priced_in_the_currency_its_litters_families_paid_in(admin_client):
    """Tried: a family's list deposit in EUR, one of the litter's puppies then priced in JPY
    here; the family chose it and was told a balance of 449,440.00 EUR. Now the form says why
    under the currency, and a puppy of a litter whose list holds no deposit is priced freely."""
    from tests.reservations.waitlist_helpers import on_list, open_litter

    litter = open_litter()
    on_list(litter, 1)
    puppy = PuppyFactory(litter=litter)
    elsewhere = PuppyFactory()

    answer = change_puppy(admin_client, puppy, [], currency="JPY", price="450000", deposit="")
    free = change_puppy(admin_client, elsewhere, [], currency="JPY", price="450000", deposit="")

    assert answer.status_code == 200  # the form again
    assert answer.context["adminform"].form.errors["currency"] == [
        f"The families on the waiting list of {litter.name} paid their deposits in EUR: "
        "price its puppies in EUR, or none of them can choose this one."
    ]
    puppy.refresh_from_db()
    assert (puppy.price, puppy.currency) == (Decimal("2000.00"), "EUR")
    assert free.status_code == 302
    elsewhere.refresh_from_db()
    assert elsewhere.currency == "JPY"


@pytest.mark.django_db
def test_a_litters_currency_stays_that_of_the_deposits_on_its_list(admin_client):
    from tests.reservations.waitlist_helpers import on_list, open_litter

    litter = open_litter()
    on_list(litter, 1)

    answer = admin_client.post(
        reverse("admin:catalogue_litter_change", args=[litter.pk]),
        litter_form(admin_client, litter, currency="GBP"),
    )

    assert answer.status_code == 200, answer.content.decode()[:500]
    assert answer.context["adminform"].form.errors["currency"] == [
        "The families on this waiting list paid their deposits in EUR: the litter's "
        "currency stays EUR while they are on it."
    ]
    assert Litter.objects.get(pk=litter.pk).currency == "EUR"
