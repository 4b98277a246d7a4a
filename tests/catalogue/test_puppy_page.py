"""The puppy page: what a buyer needs to decide, and the reserve form only when available."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from kennel.catalogue.models import Litter, Puppy, PuppyPhoto
from tests.factories import PuppyFactory

pytestmark = pytest.mark.django_db

P = Puppy.Status


def test_puppy_page_shows_litter_birth_colour_description_price_and_deposit(client):
    litter = Litter.objects.create(
        name="Maple x Hunter",
        dam="Willowbrook Maple",
        sire="Goldcrest Hunter",
        born_on="2026-01-05",
    )
    puppy = PuppyFactory(
        name="Honey",
        litter=litter,
        born_on=litter.born_on,
        colour="Light golden",
        description="Loves socks.",
        price=Decimal("1500.00"),
        deposit=Decimal("300.00"),
    )
    PuppyPhoto.objects.create(puppy=puppy, image="puppies/h1.jpg", alt="Honey on the lawn")

    response = client.get(puppy.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    for text in [
        "Honey",
        "Willowbrook Maple",
        "Goldcrest Hunter",
        "5 January 2026",
        "Light golden",
        "Loves socks.",
        "1,500.00 EUR",
        "Reserve with a deposit of 300.00 EUR",
    ]:
        assert text in html
    assert 'src="/media/puppies/h1.jpg" alt="Honey on the lawn"' in html


def test_available_puppy_has_the_reserve_form_with_labelled_fields(client):
    puppy = PuppyFactory(slug="honey")

    html = client.get(puppy.get_absolute_url()).content.decode()

    form = re.search(r'<form class="reserve-form" method="post" action="([^"]+)"', html)
    assert form
    assert form.group(1) == reverse("payments:reserve", kwargs={"slug": "honey"})
    assert 'name="csrfmiddlewaretoken"' in html
    for name, kind in [("name", "text"), ("email", "email"), ("phone", "tel")]:
        assert f'<label for="id_{name}">' in html
        assert f'<input type="{kind}" id="id_{name}" name="{name}"' in html
    assert "<fieldset" in html
    assert "<legend>Pay the deposit with</legend>" in html
    stripe = re.search(
        r'<input type="radio" id="(id_provider_\d)" name="provider" value="stripe"[^>]*>', html
    )
    assert stripe
    assert " checked" in stripe.group(0)
    assert f'<label for="{stripe.group(1)}">Card (Stripe)</label>' in html
    assert "Reserve and pay the deposit</button>" in html


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (P.HELD, "is on hold"),
        (P.RESERVED, "is reserved"),
        (P.SOLD, "is sold"),
    ],
)
def test_puppy_that_is_not_available_says_why_and_has_no_form(client, status, text):
    puppy = PuppyFactory(name="Biscuit", status=status)

    response = client.get(puppy.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Biscuit {text}" in html
    assert '<form class="reserve-form"' not in html
    assert 'name="provider"' not in html


def test_unknown_or_unpublished_puppy_is_a_404(client):
    hidden = PuppyFactory(is_published=False)

    assert client.get(reverse("catalogue:puppy", kwargs={"slug": "nobody"})).status_code == 404
    assert client.get(hidden.get_absolute_url()).status_code == 404


def test_puppy_page_escapes_the_description(client):
    puppy = PuppyFactory(description="<script>alert('x')</script>")

    html = client.get(puppy.get_absolute_url()).content.decode()

    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


def test_puppy_page_query_count_is_small(client, django_assert_max_num_queries):
    puppy = PuppyFactory()
    for i in range(3):
        PuppyPhoto.objects.create(puppy=puppy, image=f"puppies/x{i}.jpg", alt=f"x{i}")

    # The catalogue's version, the puppy with its photos, and the terms' version the reserve
    # form carries (so that terms published meanwhile are not recorded as accepted unseen).
    with django_assert_max_num_queries(3):
        assert client.get(puppy.get_absolute_url()).status_code == 200
