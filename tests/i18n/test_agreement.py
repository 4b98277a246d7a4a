"""French agrees with the puppy a sentence names: a female puppy is "réservée", "la réserver",
a male one "réservé", "le réserver" — on the puppy's page, its badge, the buyer's status page,
the page a lost race lands on, and the buyer's emails. (Tried: Rosie read "vous est réservé"
everywhere.) English has no agreement and reads as before."""

from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from kennel.catalogue.models import Puppy
from kennel.reservations.models import Reservation
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory, ReservationFactory
from tests.notifications.helpers import confirm

NBSP, APOS = "\u00a0", "\u2019"
S = Reservation.Status
FORM = {
    "name": "Camille Durand",
    "email": "camille@example.fr",
    "phone": "+33 6 12 34 56 78",
    "provider": "stripe",
    "accept_terms": "on",
}
RESERVED = {
    Puppy.Sex.FEMALE: {
        "page": f"Rosie vous est réservée{NBSP}: votre acompte est payé.",
        "badge": "</span>Réservée</span>",
        "headline": f"Réservée pour vous{NBSP}!",
        "status": "Votre acompte est confirmé. Rosie vous est réservée.",
        "email": f"Rosie vous est désormais réservée et personne d{APOS}autre ne peut la réserver.",
        "email_heading": "Rosie vous est réservée</h1>",
    },
    Puppy.Sex.MALE: {
        "page": f"Max vous est réservé{NBSP}: votre acompte est payé.",
        "badge": "</span>Réservé</span>",
        "headline": f"Réservé pour vous{NBSP}!",
        "status": "Votre acompte est confirmé. Max vous est réservé.",
        "email": f"Max vous est désormais réservé et personne d{APOS}autre ne peut le réserver.",
        "email_heading": "Max vous est réservé</h1>",
    },
}
NAMES = {Puppy.Sex.FEMALE: "Rosie", Puppy.Sex.MALE: "Max"}


def _french() -> Client:
    return Client(headers={"accept-language": "fr"})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sex", [Puppy.Sex.FEMALE, Puppy.Sex.MALE])
def test_the_buyer_reads_their_puppy_reserved_as_its_sex_on_the_pages_and_in_the_email(
    sandbox, sex
):
    puppy = PuppyFactory(name=NAMES[sex], sex=sex, price=Decimal("1500.00"))
    browser = _french()
    answer = browser.post(reverse("payments:reserve", kwargs={"slug": puppy.slug}), FORM)
    assert answer.status_code == 303, answer.content.decode()
    reservation = Reservation.objects.get()
    mail.outbox.clear()

    confirm(reservation, payment_id=f"pi_{sex}")
    run_worker_once()

    says = RESERVED[sex]
    # Back on the puppy's page in the browser that paid.
    page = browser.get(puppy.get_absolute_url()).content.decode()
    assert says["page"] in page
    assert says["badge"] in page
    status = browser.get(reservation.get_absolute_url()).content.decode()
    assert says["headline"] in status
    assert says["status"] in status
    [email] = [message for message in mail.outbox if message.to == [FORM["email"]]]
    [(html, _)] = email.alternatives
    assert email.subject == f"Votre acompte pour {puppy.name} est confirmé"
    assert says["email"] in email.body
    assert says["email"] in str(html)
    assert says["email_heading"] in str(html)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sex", "status", "headline", "text"),
    [
        (
            Puppy.Sex.FEMALE,
            S.CONFIRMED,
            f"Rosie vient d{APOS}être réservée par une autre famille",
            f"Une autre famille a versé l{APOS}acompte.",
        ),
        (
            Puppy.Sex.FEMALE,
            S.PENDING,
            f"Rosie vient d{APOS}être réservée par une autre famille",
            f"Si son paiement n{APOS}aboutit pas, Rosie sera de nouveau proposée ici.",
        ),
        (
            Puppy.Sex.MALE,
            S.PENDING,
            f"Max vient d{APOS}être réservé par une autre famille",
            f"Si son paiement n{APOS}aboutit pas, Max sera de nouveau proposé ici.",
        ),
    ],
)
def test_the_page_a_lost_race_lands_on_names_the_puppy_as_its_sex(sex, status, headline, text):
    puppy = ReservationFactory(puppy=PuppyFactory(name=NAMES[sex], sex=sex), status=status).puppy

    html = _french().get(puppy.get_absolute_url(), {"taken": "1"}).content.decode()

    assert headline in html
    assert text in html


@pytest.mark.django_db
def test_english_reads_as_before_whatever_the_sex():
    puppy = ReservationFactory(
        puppy=PuppyFactory(name="Rosie", sex=Puppy.Sex.FEMALE), status=S.CONFIRMED
    ).puppy

    html = Client().get(puppy.get_absolute_url(), {"taken": "1"}).content.decode()

    assert "Rosie has just been reserved by another family" in html


@pytest.mark.django_db
@pytest.mark.parametrize(("sex", "born"), [(Puppy.Sex.FEMALE, "Née le"), (Puppy.Sex.MALE, "Né le")])
def test_a_puppys_birth_date_reads_as_its_sex_on_its_page_and_its_card(sex, born):
    """Tried: every puppy was "Né le 5 octobre 2026" in French, Rosie and Poppy included."""
    puppy = PuppyFactory(name=NAMES[sex], sex=sex, is_published=True)

    page = _french().get(puppy.get_absolute_url()).content.decode()
    catalogue = _french().get(reverse("catalogue:index")).content.decode()

    assert f"<dt>{born}</dt>" in page
    assert f'<p class="card__meta">{born} <time' in catalogue


@pytest.mark.django_db
def test_a_litters_birth_date_reads_as_a_litter():
    """ "La portée" is feminine: its page said "Étape Née", then "Né le"."""
    litter = PuppyFactory(is_published=True).litter

    page = _french().get(litter.get_absolute_url()).content.decode()

    assert "<dt>Née le</dt>" in page


@pytest.mark.django_db
def test_a_parents_birth_year_reads_as_its_sex():
    """The parents page said "Père (étalon) · née en 2020" of every sire."""
    from datetime import date

    from kennel.catalogue.models import Dog

    for slug, sex in (("juniper", Puppy.Sex.FEMALE), ("hunter", Puppy.Sex.MALE)):
        Dog.objects.create(
            slug=slug, name=slug.title(), sex=sex, breed="Golden", born_on=date(2020, 5, 1)
        )

    page = _french().get(reverse("catalogue:parents")).content.decode()

    assert "Mère (lice) &middot; née en 2020" in page
    assert "Père (étalon) &middot; né en 2020" in page
