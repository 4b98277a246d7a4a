"""A deposit is taken only on accepted terms: the reserve form and the API refuse a hold
without them (nothing is held), and the version accepted stays with the reservation, in the
back office too."""

import json
import re
from html import unescape

import pytest
from django.urls import reverse

from kennel.catalogue.models import Page, Puppy
from kennel.reservations.buyers import TERMS_CHANGED_MESSAGE, TERMS_NOT_ACCEPTED_MESSAGE
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory

FORM = {
    "name": "Jane Doe",
    "email": "jane@example.com",
    "phone": "+33 6 12 34 56 78",
    "provider": "stripe",
}


@pytest.fixture
def terms(db) -> Page:
    return Page.objects.create(
        kind=Page.Kind.TERMS, title="Deposit and refund terms", body="Refundable.", version="3"
    )


def _reserve_page(client, puppy, **extra):
    return client.post(reverse("payments:reserve", kwargs={"slug": puppy.slug}), {**FORM, **extra})


def _api(client, puppy, **extra):
    body = {**FORM, "puppy": puppy.slug, **extra}
    return client.post("/api/reservations/", json.dumps(body), content_type="application/json")


def _nothing_held(puppy) -> bool:
    puppy.refresh_from_db()
    return puppy.status == Puppy.Status.AVAILABLE and not Reservation.objects.exists()


def test_the_reserve_form_asks_to_accept_the_terms_and_links_them(client, terms):
    puppy = PuppyFactory()

    html = client.get(puppy.get_absolute_url()).content.decode()

    checkbox = re.search(r'<input type="checkbox" id="id_accept_terms"[^>]*>', html)
    assert checkbox
    assert "checked" not in checkbox.group(0)
    label = re.search(r'<label for="id_accept_terms">(.*?)</label>', html, re.S).group(1)
    assert 'href="/terms/"' in label
    assert "deposit and refund terms" in label


def test_the_form_without_the_terms_is_refused_next_to_the_checkbox_and_holds_nothing(
    client, terms
):
    puppy = PuppyFactory()

    page = _reserve_page(client, puppy)

    assert page.status_code == 422
    html = unescape(page.content.decode())
    error = re.search(r'<p class="field__error" id="id_accept_terms-error">(.*?)</p>', html, re.S)
    assert error
    assert TERMS_NOT_ACCEPTED_MESSAGE in error.group(1)
    assert 'aria-describedby="id_accept_terms-error"' in html
    assert '<a href="#id_accept_terms">' in html  # in the error summary, linked to the box
    assert 'value="Jane Doe"' in html  # what the buyer typed is kept
    assert _nothing_held(puppy)


@pytest.mark.parametrize("accept", [None, False, "", "no"])
def test_the_api_without_accept_terms_is_a_422_naming_the_field_and_holds_nothing(
    client, terms, accept
):
    puppy = PuppyFactory()
    extra = {} if accept is None else {"accept_terms": accept}

    answer = _api(client, puppy, **extra)

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "accept_terms" in error["details"]["fields"]
    assert _nothing_held(puppy)


@pytest.mark.django_db(transaction=True)
def test_the_version_accepted_is_kept_with_each_reservation_and_shown_in_the_back_office(
    sandbox, live_server, client, admin_client
):
    Page.objects.create(kind=Page.Kind.TERMS, title="Terms", body="Refundable.", version="3")
    first, second = PuppyFactory(), PuppyFactory()

    assert _reserve_page(client, first, accept_terms="on").status_code == 303
    # The breeder changes the terms: later buyers accept the new version, earlier keep theirs.
    Page.objects.filter(kind=Page.Kind.TERMS).update(version="4")
    answer = _api(client, second, accept_terms=True, email="john@example.com")

    assert answer.status_code == 201, answer.content
    assert Reservation.objects.get(puppy=first).terms_version == "3"
    later = Reservation.objects.get(puppy=second)
    assert later.terms_version == "4"
    back_office = admin_client.get(
        reverse("admin:reservations_reservation_change", args=[later.pk])
    ).content.decode()
    assert re.search(r"<dt>Deposit terms accepted</dt><dd[^>]*>4</dd>", back_office)


@pytest.mark.django_db
def test_new_terms_under_the_old_version_are_refused_in_the_back_office(admin_client, terms):
    """Tried: the breeder rewrote the terms ("Refundable." became "Non-refundable.") and saved
    them under the same version 3: later buyers' reservations said "terms accepted: 3", as did
    those who had accepted the old text — nothing told them apart. A wording kept under a new
    version, and a title alone changed, are saved."""
    url = reverse("admin:catalogue_page_change", args=[terms.pk])
    fields = {"kind": "terms", "title": terms.title, "body": "Non-refundable.", "version": "3"}

    refused = admin_client.post(url, fields)

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["version"] == [
        "You changed the terms: give them a new version (not 3), so that each reservation "
        "keeps the version its buyer accepted."
    ]
    assert Page.objects.get(pk=terms.pk).body == "Refundable."
    assert admin_client.post(url, {**fields, "version": "4"}).status_code == 302
    assert admin_client.post(url, {**fields, "version": "4", "title": "Terms"}).status_code == 302
    assert Page.objects.values_list("body", "version", "title").get(pk=terms.pk) == (
        "Non-refundable.",
        "4",
        "Terms",
    )


def _terms_version_shown(html: str) -> str:
    found = re.search(r'<input type="hidden" name="terms_version" value="([^"]*)">', html)
    assert found, "the form does not carry the terms' version it shows"
    return unescape(found.group(1))


def test_terms_changed_after_the_page_was_shown_are_refused_and_must_be_read_again(client, terms):
    """Tried: the breeder published version 4 while a buyer had version 3 open; the buyer's
    deposit was recorded as accepting version 4, which they never saw."""
    puppy = PuppyFactory()
    shown = _terms_version_shown(client.get(puppy.get_absolute_url()).content.decode())
    assert shown == "3"
    Page.objects.filter(kind=Page.Kind.TERMS).update(version="4")

    page = _reserve_page(client, puppy, accept_terms="on", terms_version=shown)

    assert page.status_code == 422
    html = unescape(page.content.decode())
    error = re.search(r'<p class="field__error" id="id_accept_terms-error">(.*?)</p>', html, re.S)
    assert error
    assert TERMS_CHANGED_MESSAGE in error.group(1)
    checkbox = re.search(r'<input type="checkbox" id="id_accept_terms"[^>]*>', html)
    assert checkbox
    assert "checked" not in checkbox.group(0)  # to be ticked again, once read
    assert _terms_version_shown(html) == "4"
    assert _nothing_held(puppy)


def test_the_api_refuses_a_terms_version_that_is_no_longer_in_force(client, terms):
    puppy = PuppyFactory()
    Page.objects.filter(kind=Page.Kind.TERMS).update(version="4")

    answer = _api(client, puppy, accept_terms=True, terms_version="3")

    assert answer.status_code == 409
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == ("TERMS_CHANGED", TERMS_CHANGED_MESSAGE)
    assert _nothing_held(puppy)


@pytest.mark.django_db(transaction=True)
def test_the_terms_version_shown_is_the_one_kept(sandbox, live_server, client):
    Page.objects.create(kind=Page.Kind.TERMS, title="Terms", body="Refundable.", version="3")
    first, second = PuppyFactory(), PuppyFactory()
    shown = _terms_version_shown(client.get(first.get_absolute_url()).content.decode())

    page = _reserve_page(client, first, accept_terms="on", terms_version=shown)
    api = _api(client, second, accept_terms=True, terms_version="3", email="john@example.com")

    assert page.status_code == 303
    assert api.status_code == 201, api.content
    assert set(Reservation.objects.values_list("terms_version", flat=True)) == {"3"}
