"""/litters/ and /litters/<slug>/: the stage and dates, the parents, the puppies, how many
families wait, the list deposit and its terms in plain words, and the join form; every
refusal of a join is a page saying why, with nothing written. (Joining and paying through to
the provider is tested with the sandbox.)"""

import html as html_
from datetime import date, timedelta
from decimal import Decimal
from typing import cast

import pytest
from django.urls import reverse

from kennel.catalogue.models import Dog, Litter
from kennel.core.db import locked_transaction
from kennel.core.models import AuditLog
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation, WaitlistEntry
from kennel.reservations.services import lock_for_payment, reservation_confirm
from kennel.reservations.waitlist import (
    LITTER_NOT_FOUND_MESSAGE,
    WAITLIST_CLOSED_MESSAGE,
    WAITLIST_FULL_MESSAGE,
    Preferences,
    waitlist_join,
)
from tests.factories import LitterFactory, PuppyFactory

pytestmark = pytest.mark.django_db

GOOD = {
    "name": "Jane Doe",
    "email": "jane@example.com",
    "phone": "+33 6 12 34 56 78",
    "sex": "female",
    "colour": "Golden",
    "notes": "We have a garden.",
    "provider": "stripe",
    "accept_terms": "on",
}


def open_litter(**fields) -> Litter:
    values = {
        "name": "Summer litter",
        "slug": "summer",
        "stage": Litter.Stage.EXPECTED,
        "born_on": None,
        "expected_on": date(2027, 3, 1),
        "go_home_on": date(2027, 5, 1),
        "waitlist_open": True,
        "waitlist_deposit": Decimal("300.00"),
        "deposit_terms": Litter.DepositTerms.REFUNDABLE,
        "refund_days": 14,
        **fields,
    }
    return cast(Litter, LitterFactory(**values))


def family_on_list(litter: Litter, n: int) -> WaitlistEntry:
    """A family whose list deposit has been paid: on the list, at the next position."""
    entry = waitlist_join(
        litter_slug=litter.slug,
        buyer=Buyer(name=f"Family {n}", email=f"family{n}@example.com", phone="+33 600000000"),
        provider="stripe",
        preferences=Preferences(),
    )
    with locked_transaction():
        reservation = lock_for_payment(reservation_id=entry.reservation_id)
        reservation_confirm(reservation, payment_id=f"pi_family_{n}", actor="test")
    entry.refresh_from_db()
    return entry


def text(page) -> str:
    return html_.unescape(page.content.decode())


def join(client, slug: str, **changes):
    data = {key: value for key, value in {**GOOD, **changes}.items() if value is not None}
    return client.post(reverse("catalogue:litter_join", kwargs={"slug": slug}), data)


def test_the_litters_page_lists_each_litter_with_its_stage_and_families_waiting(client):
    summer = open_litter()
    family_on_list(summer, 1)
    family_on_list(summer, 2)
    open_litter(name="Spring litter", slug="spring", waitlist_open=False, stage="born",
                born_on=date(2026, 11, 1))  # fmt: skip

    page = client.get(reverse("catalogue:litters"))

    assert page.status_code == 200
    html = text(page)
    assert "Summer litter" in html
    assert "Spring litter" in html
    assert "Expected" in html
    assert "1 March 2027" in html
    assert "Born" in html
    assert "1 November 2026" in html
    assert "Join the waiting list" in html  # the open one only
    assert html.count("Join the waiting list") == 1
    assert f'href="{summer.get_absolute_url()}#join"' in html


def test_the_site_navigation_links_to_the_litters(client):
    page = client.get(reverse("catalogue:index"))

    assert f'href="{reverse("catalogue:litters")}"' in text(page)


def test_a_litter_page_shows_its_stage_parents_puppies_families_and_deposit_terms(client):
    dam = Dog.objects.create(slug="bella", name="Bella", sex="female", breed="Golden Retriever")
    litter = open_litter(dam="Bella", dam_dog=dam, sire="Max")
    PuppyFactory(litter=litter, name="Honey", slug="honey", born_on=date(2026, 10, 1))
    PuppyFactory(
        litter=litter, name="Hidden", slug="hidden", is_published=False, born_on=date(2026, 10, 1)
    )
    family_on_list(litter, 1)

    page = client.get(litter.get_absolute_url())

    assert page.status_code == 200
    html = text(page)
    assert "<h1" in html
    assert "Summer litter" in html
    assert f'<a href="{dam.get_absolute_url()}">Bella</a>' in html
    assert "Max" in html
    assert "Honey" in html
    assert "Hidden" not in html
    assert "1 family is waiting for a puppy from this litter." in html
    assert "300.00 EUR" in html
    # The terms in plain words: refunded in full until 14 days before go-home (17 April).
    assert "Refundable in full if you leave the list until" in html
    assert "17 April 2027" in html
    assert 'name="accept_terms"' in html
    assert reverse("catalogue:terms") in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "Join and pay the deposit" in html


@pytest.mark.parametrize(
    ("terms", "words"),
    [
        (Litter.DepositTerms.NON_REFUNDABLE, "Non-refundable: if you leave the list"),
        (Litter.DepositTerms.TRANSFERABLE, "keeps you a place for a later litter"),
    ],
)
def test_the_deposit_terms_are_said_in_plain_words(client, terms, words):
    litter = open_litter(deposit_terms=terms)

    assert words in text(client.get(litter.get_absolute_url()))


def test_a_closed_list_says_so_and_offers_no_form(client):
    litter = open_litter(waitlist_open=False)

    html = text(client.get(litter.get_absolute_url()))

    assert "The waiting list is not open." in html
    assert "Join and pay the deposit" not in html


def test_a_full_list_says_so_and_offers_no_form(client):
    litter = open_litter(waitlist_cap=1)
    family_on_list(litter, 1)

    html = text(client.get(litter.get_absolute_url()))

    assert "The waiting list is full" in html
    assert "Join and pay the deposit" not in html
    listed = text(client.get(reverse("catalogue:litters")))
    assert "The waiting list is full." in listed
    assert "Join the waiting list" not in listed


def test_an_unknown_litter_is_a_404_saying_so(client):
    page = client.get(reverse("catalogue:litter", kwargs={"slug": "no-such-litter"}))

    assert page.status_code == 404
    assert LITTER_NOT_FOUND_MESSAGE in text(page)
    assert join(client, "no-such-litter").status_code == 404


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "Please enter your name."),
        ({"email": "not-an-email"}, "Please enter a valid email address."),
        ({"phone": ""}, "Please enter a phone number."),
        ({"accept_terms": None}, "Please accept the deposit and refund terms"),
        ({"provider": "bitcoin"}, "Please choose Stripe or PayPal."),
        ({"sex": "puppy"}, "Please choose any, female or male."),
        ({"colour": "x" * 61}, "at most 60 characters"),
        ({"notes": "x" * 1001}, "at most 1000 characters"),
    ],
)
def test_join_form_errors_are_shown_and_nothing_is_written(client, changes, message):
    litter = open_litter()

    page = join(client, litter.slug, **changes)

    assert page.status_code == 422
    html = text(page)
    assert 'data-error-code="VALIDATION_ERROR"' in html
    assert message in html
    assert 'value="Golden"' in html or "colour" in changes  # what they typed is kept
    assert WaitlistEntry.objects.count() == 0
    assert Reservation.objects.count() == 0
    assert AuditLog.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("line_break", ["\r\n", "\r"])
def test_a_note_at_the_limit_counts_each_line_break_once(sandbox, client, line_break):
    """Tried: the browser sends a textarea's line breaks as CRLF; each counted 2, so a note
    of 1,000 characters was refused as "at most 1000 characters"."""
    note = "\n".join(["x" * 100] * 9 + ["y" * 91])
    assert len(note) == 1000
    litter = open_litter()

    answer = join(client, litter.slug, notes=note.replace("\n", line_break))

    assert answer.status_code == 303, text(answer)
    assert WaitlistEntry.objects.get().notes == note


def test_joining_a_closed_list_is_refused_plainly_with_nothing_written(client):
    litter = open_litter(waitlist_open=False)

    page = join(client, litter.slug)

    assert page.status_code == 409
    html = text(page)
    assert 'data-error-code="WAITLIST_CLOSED"' in html
    assert WAITLIST_CLOSED_MESSAGE in html
    assert WaitlistEntry.objects.count() == 0
    assert Reservation.objects.count() == 0


def test_the_join_address_opened_leads_back_to_the_litter_and_joins_nothing(client):
    # As the reserve form's: a language switch under a form with errors opens it with a GET.
    litter = open_litter()

    answer = client.get(reverse("catalogue:litter_join", kwargs={"slug": litter.slug}))

    assert answer.status_code == 303
    assert answer["Location"] == f"/litters/{litter.slug}/"
    assert client.get(answer["Location"]).status_code == 200
    assert WaitlistEntry.objects.count() == 0


def test_joining_a_list_that_just_filled_is_refused_plainly(client):
    litter = open_litter(waitlist_cap=1)
    PuppyFactory(litter=litter, born_on=date(2026, 10, 1))
    family_on_list(litter, 1)

    page = join(client, litter.slug)

    assert page.status_code == 409
    assert WAITLIST_FULL_MESSAGE in text(page)
    assert WaitlistEntry.objects.count() == 1


def test_the_join_form_is_refused_in_the_buyers_language(client):
    litter = open_litter()

    data = {**GOOD, "name": ""}
    url = reverse("catalogue:litter_join", kwargs={"slug": litter.slug})

    page = client.post(url, data, headers={"accept-language": "fr"})

    assert page.status_code == 422
    html = text(page)
    assert 'lang="fr"' in html
    assert "Veuillez indiquer votre nom." in html
    assert WaitlistEntry.objects.count() == 0


def test_a_litter_not_yet_born_shows_its_expected_date_and_go_home_day(client):
    litter = open_litter(go_home_on=date(2027, 5, 1) + timedelta(days=0))

    html = text(client.get(litter.get_absolute_url()))

    assert "Expected" in html
    assert "1 March 2027" in html
    assert "Ready to go home" in html
    assert "1 May 2027" in html
