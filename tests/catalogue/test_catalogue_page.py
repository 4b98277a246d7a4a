"""The catalogue page `/`: published puppies as cards, GET filters, a bounded query count."""

from decimal import Decimal

import pytest
from django.urls import reverse

from kennel.catalogue.models import Puppy, PuppyPhoto
from tests.factories import PuppyFactory

pytestmark = pytest.mark.django_db

P = Puppy.Status


def _names(response) -> list[str]:
    return [puppy.name for puppy in response.context["puppies"]]


def test_catalogue_lists_published_puppies_with_a_text_badge_per_status(client):
    PuppyFactory(name="Honey", status=P.AVAILABLE)
    PuppyFactory(name="Biscuit", status=P.HELD)
    PuppyFactory(name="Nell", status=P.RESERVED)
    PuppyFactory(name="Teddy", status=P.SOLD)
    PuppyFactory(name="Secret", is_published=False)

    response = client.get(reverse("catalogue:index"))

    assert response.status_code == 200
    html = response.content.decode()
    assert sorted(_names(response)) == ["Biscuit", "Honey", "Nell", "Teddy"]
    assert "Secret" not in html
    for css, text in [
        ("available", "Available"),
        ("held", "On hold"),
        ("reserved", "Reserved"),
        ("sold", "Sold"),
    ]:
        assert f'class="badge badge--{css}"' in html
        assert f"</span>{text}</span>" in html


def test_catalogue_card_shows_breed_sex_birth_date_price_deposit_and_links_to_the_puppy(client):
    puppy = PuppyFactory(
        name="Honey",
        breed="Golden Retriever",
        sex=Puppy.Sex.FEMALE,
        colour="Light golden",
        price=Decimal("2500.00"),
        deposit=Decimal("500.00"),
    )

    html = client.get(reverse("catalogue:index")).content.decode()

    assert f'href="{puppy.get_absolute_url()}"' in html
    assert "Golden Retriever" in html
    assert "Female &middot; Light golden" in html or "Female · Light golden" in html
    assert puppy.born_on.strftime("%Y-%m-%d") in html
    assert "2,500.00 EUR" in html
    assert "500.00 EUR" in html


def test_catalogue_shows_available_puppies_before_reserved_and_sold_ones(client):
    PuppyFactory(name="Anna", status=P.SOLD)
    PuppyFactory(name="Bea", status=P.RESERVED)
    PuppyFactory(name="Cleo", status=P.AVAILABLE)

    assert _names(client.get(reverse("catalogue:index"))) == ["Cleo", "Bea", "Anna"]


def test_breed_filter_keeps_only_that_breed_and_offers_every_published_breed(client):
    PuppyFactory(name="Honey", breed="Golden Retriever")
    PuppyFactory(name="Skye", breed="Border Collie")
    PuppyFactory(name="Hidden", breed="Poodle", is_published=False)

    response = client.get(reverse("catalogue:index"), {"breed": "Border Collie"})

    assert _names(response) == ["Skye"]
    html = response.content.decode()
    assert '<option value="Border Collie" selected>Border Collie</option>' in html
    assert '<option value="Golden Retriever">Golden Retriever</option>' in html
    assert "Poodle" not in html


def test_sex_filter_keeps_only_that_sex(client):
    PuppyFactory(name="Honey", sex=Puppy.Sex.FEMALE)
    PuppyFactory(name="Marley", sex=Puppy.Sex.MALE)

    assert _names(client.get(reverse("catalogue:index"), {"sex": "male"})) == ["Marley"]
    assert _names(client.get(reverse("catalogue:index"), {"sex": "female"})) == ["Honey"]


def test_availability_filter_hides_held_reserved_and_sold_puppies(client):
    PuppyFactory(name="Honey", status=P.AVAILABLE)
    PuppyFactory(name="Biscuit", status=P.HELD)
    PuppyFactory(name="Nell", status=P.RESERVED)
    PuppyFactory(name="Teddy", status=P.SOLD)

    response = client.get(reverse("catalogue:index"), {"status": "available"})

    assert _names(response) == ["Honey"]
    assert len(_names(client.get(reverse("catalogue:index"), {"status": ""}))) == 4


def test_filters_combine(client):
    PuppyFactory(name="A", breed="Border Collie", sex="male", status=P.AVAILABLE)
    PuppyFactory(name="B", breed="Border Collie", sex="male", status=P.SOLD)
    PuppyFactory(name="C", breed="Border Collie", sex="female", status=P.AVAILABLE)
    PuppyFactory(name="D", breed="Golden Retriever", sex="male", status=P.AVAILABLE)

    response = client.get(
        reverse("catalogue:index"), {"breed": "Border Collie", "sex": "male", "status": "available"}
    )

    assert _names(response) == ["A"]


def test_no_match_shows_a_clear_message_and_a_way_back_to_all_puppies(client):
    PuppyFactory(name="Honey", breed="Golden Retriever")

    response = client.get(reverse("catalogue:index"), {"breed": "Dachshund"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "No puppies match" in html
    assert "Honey" not in html
    assert "See all puppies" in html


@pytest.mark.parametrize(
    "params",
    [
        {"sex": "other"},
        {"status": "everything"},
        {"breed": "x" * 5000},
        {"sex": ["male", "female"]},
        {"breed": "<script>alert(1)</script>"},
        {"breed": "Golden\x00Retriever"},
        {"sex": "\x00"},
    ],
)
def test_odd_filter_values_never_fail(client, params):
    PuppyFactory(name="Honey")

    response = client.get(reverse("catalogue:index"), params)

    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_catalogue_query_count_does_not_grow_with_puppies_or_photos(
    client, django_assert_max_num_queries
):
    for i in range(12):
        puppy = PuppyFactory(name=f"Puppy {i}", breed=["Golden Retriever", "Border Collie"][i % 2])
        for position in range(2):
            PuppyPhoto.objects.create(
                puppy=puppy,
                image=f"puppies/p{i}-{position}.jpg",
                alt=f"Photo {i}",
                position=position,
            )

    # puppies (with litters joined) + their photos + the breed list
    with django_assert_max_num_queries(3):
        response = client.get(reverse("catalogue:index"))

    assert len(response.context["puppies"]) == 12
    assert response.content.decode().count('alt="Photo ') == 12  # one photo per card


def test_catalogue_shows_the_first_photo_with_its_alt_text(client):
    puppy = PuppyFactory(name="Honey")
    PuppyPhoto.objects.create(puppy=puppy, image="puppies/second.jpg", alt="Second", position=2)
    PuppyPhoto.objects.create(
        puppy=puppy, image="puppies/first.jpg", alt="Honey asleep", position=1
    )

    html = client.get(reverse("catalogue:index")).content.decode()

    assert '/media/puppies/first.jpg" alt="Honey asleep"' in html
    assert "second.jpg" not in html


def test_catalogue_escapes_what_the_breeder_typed(client):
    PuppyFactory(name="<b>Rex</b>", breed='Collie "<i>"')

    html = client.get(reverse("catalogue:index")).content.decode()

    assert "<b>Rex</b>" not in html
    assert "&lt;b&gt;Rex&lt;/b&gt;" in html
    assert "<i>" not in html
