"""The back office on a French browser: what it refuses, and why, reads in French, as Django's
own admin texts do. Tried: a price above what one payment can take, an amount to keep that is
no number, a file that is no photo and an erasure refused were all explained in English on an
otherwise French page."""

from decimal import Decimal

import pytest
from django.test import Client

from kennel.reservations.models import Reservation
from tests.catalogue.test_photos import change_puppy, media, upload  # noqa: F401 (media: fixture)
from tests.factories import PuppyFactory
from tests.notifications.helpers import confirm as confirmed
from tests.notifications.helpers import hold
from tests.reservations.test_admin_actions import action, confirm

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"
APOS = "\u2019"


@pytest.fixture
def french_admin(admin_client: Client) -> Client:
    """The breeder's back office, from a browser that asks for French."""
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "fr"
    return admin_client


def _paid() -> Reservation:
    return confirmed(hold(PuppyFactory(price=Decimal("2000.00"), deposit=Decimal("400.00"))))


def test_a_price_above_the_largest_payment_is_refused_in_french(french_admin):
    puppy = PuppyFactory(price=Decimal("2000.00"), deposit=Decimal("400.00"))

    answer = change_puppy(french_admin, puppy, [], price="1500000", deposit="1200000")

    html = answer.content.decode()
    assert answer.status_code == 200  # the form again
    assert (
        "Le prix ne peut pas dépasser 999999.99 EUR, le plus gros paiement que Stripe accepte "
        "(PayPal en accepte autant)."
    ) in html
    assert "must be at most" not in html
    puppy.refresh_from_db()
    assert puppy.price == Decimal("2000.00")


def test_an_amount_to_keep_that_is_no_number_is_refused_in_french(french_admin):
    reservation = _paid()
    _page, data = action(french_admin, "refund_deposit", reservation)

    html = confirm(french_admin, {**data, "refund_form": "1", "amount_to_keep": "abc"})

    assert f"Rien n{APOS}a été remboursé{NBSP}:" in html
    assert "Le montant à conserver doit être un nombre, comme 0 ou 50,00." in html
    assert "Nothing was refunded" not in html
    assert "must be a number" not in html
    assert Reservation.objects.get(pk=reservation.pk).status == "confirmed"


def test_erasing_the_buyer_of_an_open_reservation_is_refused_in_french(french_admin):
    reservation = _paid()
    _page, data = action(french_admin, "erase_buyer", reservation)

    html = confirm(french_admin, data)

    assert (
        f"Cette réservation est toujours ouverte{NBSP}: libérez la réservation ou remboursez "
        f"l{APOS}acompte avant d{APOS}effacer les coordonnées de l{APOS}acheteur."
    ) in html
    assert "still open" not in html
    assert Reservation.objects.get(pk=reservation.pk).erased_at is None


@pytest.mark.usefixtures("media")
def test_a_file_that_is_no_photo_is_refused_in_french(french_admin):
    puppy = PuppyFactory()
    notes = upload("notes.jpg", b"my puppy notes\n" * 100)

    answer = change_puppy(french_admin, puppy, [{"alt": "Oups", "file": notes}])

    html = answer.content.decode()
    assert answer.status_code == 200
    assert (
        f"Ce fichier n{APOS}est pas une photo lisible. Envoyez une image JPEG, PNG ou WebP."
    ) in html
    assert "not a photo we can read" not in html
    assert not puppy.photos.exists()
